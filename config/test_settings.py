"""Settings for the test suite: the real services, kept apart from development data.

The test database is pytest-django's throwaway ``test_<name>`` (``test_<name>_gw<N>`` per xdist
worker); Celery and the cache use their own Redis logical databases, so a running ``make run``
worker never takes test tasks. tests/plugin.py starts the services and sets the URLs first.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from config.settings import *  # noqa: F403
from config.settings import CACHES, REDIS_URL, STORAGES, redis_db_url

# Under pytest-xdist each worker (gw0, gw1, …) has its own pair of Redis logical databases: its
# Celery broker and its cache never see another worker's (or a plain run's: 2 and 3) tasks or keys.
_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
_BROKER_DB = 4 + 2 * int(_XDIST_WORKER.removeprefix("gw")) if _XDIST_WORKER else 2
if _BROKER_DB + 1 > 15:
    raise RuntimeError(
        f"pytest-xdist worker {_XDIST_WORKER} has no Redis databases left (16): use -n 6 or fewer"
    )
REDIS_URL = redis_db_url(REDIS_URL, _BROKER_DB)
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CACHES["default"]["LOCATION"] = redis_db_url(REDIS_URL, _BROKER_DB + 1)
CACHES["default"]["KEY_PREFIX"] = "test"

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Shared with the worker processes the tests start (they inherit the environment).
MEDIA_ROOT = Path(
    os.environ.setdefault("TEST_MEDIA_ROOT", tempfile.mkdtemp(prefix="facesearch-test-media-"))
)
DEEPFACE_HOME = BASE_DIR / ".data" / "deepface"  # noqa: F405
SEARCH_RATE_LIMIT_PER_MINUTE = 1000
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"
CRAWL_ALLOW_LOOPBACK = True
CRAWL_TIMEOUT_SECONDS = 2.0
CRAWL_RATE_OVERRIDE = 1000.0
# Audit anchors of the test run go to a throwaway folder, never into the development data.
AUDIT_ANCHOR_DIR = Path(
    os.environ.setdefault(
        "TEST_AUDIT_ANCHOR_DIR", tempfile.mkdtemp(prefix="facesearch-test-anchors-")
    )
)
# The log's signing key of the tests: apart from development's, and kept beside the test database
# (which is reused between runs, with the checkpoints it signed).
AUDIT_LOG_SIGNING_KEY_FILE = os.environ.get(
    "TEST_AUDIT_LOG_SIGNING_KEY_FILE",
    str(BASE_DIR / ".data" / "test-audit-log.key"),  # noqa: F405
)
# Test hook (audit.tlog._test_pause), read here only, never in production settings: a sequencer
# batch waits before its checkpoint while this file exists (tests/audit/test_faults.py).
AUDIT_SEQUENCER_TEST_PAUSE_FILE = os.environ.get("AUDIT_SEQUENCER_TEST_PAUSE_FILE", "")
# The monitoring guard's hold on repeat searches is off for tests about other things (they search one
# person many times); tests/search/test_monitoring*.py and tests/browser/test_monitoring*.py switch it on.
# Alerts stay on everywhere. MONITORING_HOLD_REPEATS=1 in the environment turns the hold on for a whole run.
MONITORING_HOLD_REPEATS = os.environ.get("MONITORING_HOLD_REPEATS", "0") == "1"

# The catalogues are compiled from locale/*.po with polib (no GNU gettext needed), as `make` does.
from config.i18n import compile_catalogues  # noqa: E402

compile_catalogues()
# Test hook (subjects.capture.capture_challenge_issue), read here only and never in production: seeds the
# poses of the live capture's challenge so that a fake camera file can follow it (the nonce stays random).
# None: random, as in production. tests/browser/test_capture_journey.py sets it per test.
CAPTURE_TEST_CHALLENGE_SEED = None
# The log's name is fixed for the whole run: live-server tests each serve another address, and a
# checkpoint signed under one name does not verify under another (audit/signing.py).
AUDIT_LOG_ORIGIN = "facesearch.test/transparency/log"
