"""A test-only Celery app for the fault tests: the project's app, with faults injected.

The fault tests start their workers with ``celery -A tests.reliability.fault_worker``; nothing in
production imports this module. It wraps ``search.engine.decode_image`` (where a photo that crashes
the face model would crash the worker) before the worker forks its children, reading two variables
from the worker's environment:

- ``FACE_TEST_CRASH_SHA256``: SHA-256 digests, comma separated; the worker SIGKILLs itself on a photo
  with one of them, as a photo that crashes the face model would.
- ``FACE_TEST_HOLD_FILE``: while that file exists the worker waits before decoding, so that the test
  can kill it mid-task.
"""

from __future__ import annotations

import hashlib
import os
import signal
import time
from pathlib import Path
from typing import Any

from config.celery import app
from search import engine

__all__ = ["app"]

CRASH = {digest for digest in os.environ.get("FACE_TEST_CRASH_SHA256", "").split(",") if digest}
HOLD = os.environ.get("FACE_TEST_HOLD_FILE", "")

_decode_image = engine.decode_image


def _decode_image_with_faults(data: bytes, *args: Any, **kwargs: Any) -> Any:
    if CRASH and hashlib.sha256(data).hexdigest() in CRASH:
        os.kill(os.getpid(), signal.SIGKILL)
    while HOLD and Path(HOLD).exists():
        time.sleep(0.1)
    return _decode_image(data, *args, **kwargs)


engine.decode_image = _decode_image_with_faults
