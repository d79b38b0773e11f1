"""The test session's services, started before Django configures (loaded with ``-p tests.plugin``).

Settings only read the environment. This plugin starts (or reuses) the embedded PostgreSQL and
Redis when ``DATABASE_URL`` / ``REDIS_URL`` are unset and writes the URLs into the environment, so
that settings, the xdist workers and every process a test starts (Celery workers, ``make run``)
find them. Under pytest-xdist each worker gets its own test database (pytest-django's
``test_<name>_gw<N>``), its own Redis logical databases (config/test_settings.py reads
``PYTEST_XDIST_WORKER``) and its own media, anchor and log folders.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest


def worker_id() -> str:
    """``gw0``, ``gw1``… under pytest-xdist; ``""`` in a plain run."""
    return os.environ.get("PYTEST_XDIST_WORKER", "")


@pytest.hookimpl(hookwrapper=True)
def pytest_load_initial_conftests(early_config, parser, args) -> Iterator[None]:
    """Before pytest-django imports settings: the services, and this process's own folders."""
    # Importing the ``config`` package loads config/celery.py, whose setdefault would otherwise name
    # the development settings in the environment, which pytest-django prefers to the ini's.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.test_settings")
    from config import devservices

    devservices.ensure_environment()
    worker = worker_id()
    if worker:
        # The controller's folders are in the inherited environment: each worker takes its own.
        for name, prefix in (
            ("TEST_MEDIA_ROOT", "facesearch-test-media-"),
            ("TEST_AUDIT_ANCHOR_DIR", "facesearch-test-anchors-"),
        ):
            os.environ[name] = tempfile.mkdtemp(prefix=f"{prefix}{worker}-")
    yield
