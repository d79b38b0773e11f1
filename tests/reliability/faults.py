"""Helpers that stop real service processes."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import redis


def redis_port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


def redis_stop(url: str) -> None:
    """SHUTDOWN NOSAVE the real redis-server and wait until it no longer answers."""
    client = redis.Redis.from_url(url)
    with contextlib.suppress(
        redis.exceptions.ConnectionError
    ):  # it closes the connection as it exits
        client.shutdown(nosave=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            client.ping()
        except redis.exceptions.ConnectionError:
            return
        time.sleep(0.1)
    raise AssertionError("redis-server did not stop")


@contextlib.contextmanager
def face_workers_paused() -> Iterator[list[str]]:
    """Running test workers stop taking face tasks meanwhile (and the queues are emptied before and after).

    A test that creates many searches must not have a session worker embed them while the test's
    teardown truncates the tables: the worker's open transaction and the TRUNCATE deadlock.
    """
    from config.celery import app

    others = [name for reply in app.control.ping(timeout=1.0) for name in reply]
    if others:
        app.control.cancel_consumer("gpu", destination=others, reply=True)
    app.control.purge()
    try:
        yield others
    finally:
        app.control.purge()
        if others:
            app.control.add_consumer("gpu", destination=others, reply=True)


def fallback_cache_clear() -> None:
    """Empty the cache's database fallback table: flushes between tests don't reach it (it is not a model),
    so counters from an earlier outage test would still count against this one."""
    from django.db import connection

    from config.cache import FALLBACK_TABLE

    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {connection.ops.quote_name(FALLBACK_TABLE)}")  # noqa: S608 (a constant)
