"""Embedded development services: PostgreSQL 18 with pgvector, Redis, and SeaweedFS (S3) on demand.

Settings never start them: they only read ``DATABASE_URL`` / ``REDIS_URL``. The entry points
do: ``make run`` (config/runner.py), the test session (tests/conftest.py) and ``manage.py``
when the URLs are unset outside production, each through :func:`ensure_environment`. The
servers run as background daemons with their data under ``.data/`` (or ``DEV_DATA_DIR``), so
``manage.py``, the test suite and ``make run`` share them. Whoever starts a server records it,
so ``make run`` can stop what it started and nothing else.
"""

from __future__ import annotations

import os

from config.devservices._base import (
    BASE_DIR,
    DB_NAME,
    STARTED,
    Started,
    _locked,
    _process_alive,
    _write_private,
    data_dir,
    free_port,
    redis_password,
)
from config.devservices.postgres import (
    LISTEN_NOWHERE,
    _machine_tuning,
    _pg_dir,
    _pg_running,
    database_url,
    ensure_postgres,
    harden_postgres_config,
    postgres_tuning,
    stop_postgres,
    tune_postgres_config,
)
from config.devservices.redis import (
    _port_answers,
    _redis_dir,
    _redis_state,
    ensure_redis,
    redis_server_binary,
    redis_url,
    start_redis_daemon,
    stop_redis,
    stop_redis_daemon,
)
from config.devservices.seaweedfs import (
    SEAWEEDFS_ACCESS_KEY,
    SEAWEEDFS_BUCKET,
    _seaweedfs_client,
    _seaweedfs_ready,
    ensure_seaweedfs,
    seaweedfs_url,
    start_seaweedfs_server,
    stop_seaweedfs,
    stop_seaweedfs_server,
)

__all__ = [
    "BASE_DIR",
    "DB_NAME",
    "LISTEN_NOWHERE",
    "SEAWEEDFS_ACCESS_KEY",
    "SEAWEEDFS_BUCKET",
    "STARTED",
    "Started",
    "_locked",
    "_machine_tuning",
    "_pg_dir",
    "_pg_running",
    "_port_answers",
    "_process_alive",
    "_redis_dir",
    "_redis_state",
    "_seaweedfs_client",
    "_seaweedfs_ready",
    "_write_private",
    "data_dir",
    "database_url",
    "ensure_environment",
    "ensure_postgres",
    "ensure_redis",
    "ensure_seaweedfs",
    "free_port",
    "harden_postgres_config",
    "postgres_tuning",
    "redis_password",
    "redis_server_binary",
    "redis_url",
    "seaweedfs_url",
    "start_redis_daemon",
    "start_seaweedfs_server",
    "stop_all",
    "stop_postgres",
    "stop_redis",
    "stop_redis_daemon",
    "stop_seaweedfs",
    "stop_seaweedfs_server",
    "stop_started",
    "tune_postgres_config",
]


def production_mode(environ: os._Environ[str] | dict[str, str] | None = None) -> bool:
    """Production as config/settings.py reads it: DJANGO_DEBUG=false or DJANGO_ENV=production."""
    environ = os.environ if environ is None else environ
    debug = environ.get("DJANGO_DEBUG", "true").strip().lower() in ("1", "true", "yes", "on", "y")
    return not debug or environ.get("DJANGO_ENV", "development") == "production"


def ensure_environment() -> None:
    """Start (or reuse) the embedded PostgreSQL and Redis for whatever URL is unset, and set it.

    Writes ``DATABASE_URL`` / ``REDIS_URL`` into ``os.environ`` so that settings, and every
    process started from here (web, Celery workers), find them. Refuses in production mode:
    there the URLs must point at real servers.
    """
    missing = [name for name in ("DATABASE_URL", "REDIS_URL") if not os.environ.get(name)]
    if not missing:
        return
    if production_mode():
        raise RuntimeError(f"{' and '.join(missing)} must be set in production mode.")
    if "DATABASE_URL" in missing:
        os.environ["DATABASE_URL"] = database_url(ensure_postgres())
    if "REDIS_URL" in missing:
        os.environ["REDIS_URL"] = ensure_redis()


def stop_started() -> None:
    """Stop the services this process started (``make run`` on Ctrl-C)."""
    if STARTED.seaweedfs:
        stop_seaweedfs()
    if STARTED.redis:
        stop_redis()
    if STARTED.postgres:
        stop_postgres()


def stop_all() -> None:
    stop_seaweedfs()
    stop_redis()
    stop_postgres()
