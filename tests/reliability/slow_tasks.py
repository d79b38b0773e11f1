"""A slow task on the project's own Celery app, for shutdown tests (run with ``-A tests.reliability.slow_tasks``)."""

from __future__ import annotations

import time

from config.celery import app

__all__ = ["app", "sleep_then_mark"]


@app.task(name="tests.reliability.sleep_then_mark")
def sleep_then_mark(seconds: float, marker: str) -> None:
    with open(marker + ".started", "a") as fh:  # the event a test awaits: the task is running
        fh.write("started\n")
    time.sleep(seconds)
    with open(marker, "a") as fh:
        fh.write("done\n")
