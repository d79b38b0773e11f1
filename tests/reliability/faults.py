"""Helpers that stop real service processes."""

from __future__ import annotations

import contextlib
import time

import redis


def redis_port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


def redis_stop(url: str) -> None:
    """SHUTDOWN NOSAVE the real redis-server and wait until it no longer answers."""
    client = redis.Redis.from_url(url)
    with contextlib.suppress(redis.exceptions.ConnectionError):  # it closes the connection as it exits
        client.shutdown(nosave=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            client.ping()
        except redis.exceptions.ConnectionError:
            return
        time.sleep(0.1)
    raise AssertionError("redis-server did not stop")
