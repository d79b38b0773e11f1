"""Health checks: liveness from the process, readiness cached and rate-limited, no versions or counts.

- ``/healthz`` and ``/healthz/live``: the process answers; no I/O, so a flood costs nothing but the request.
- ``/healthz/ready``: database, pgvector, Redis and a Celery worker, as ``ok`` per check (200 or 503). The
  worker ping waits up to a second, so the answer is kept ``HEALTH_READY_CACHE_SECONDS`` (10 s) in process
  memory and concurrent callers wait for the one check in flight instead of starting their own: N calls
  cost one check. Each client address gets ``HEALTH_READY_PER_MINUTE`` answers a minute (429 after).

Anonymous callers learn only ok/unhealthy per check: the pgvector version and the number of workers
are for the operator's logs (a failed check logs the exception's class), not for the internet.
"""

from __future__ import annotations

import logging
import threading
import time

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from config.http import client_ip

logger = logging.getLogger(__name__)


def _check_database() -> tuple[bool, bool]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'")
            row = cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure is "unhealthy"; the log says which class
        logger.warning("health: database check failed (%s)", type(exc).__name__)
        return False, False
    return True, row is not None


def _check_redis() -> bool:
    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1
        )
        client.ping()
    except Exception as exc:  # noqa: BLE001
        logger.warning("health: Redis check failed (%s)", type(exc).__name__)
        return False
    return True


def _check_worker() -> bool:
    from config.celery import app

    try:
        with app.connection_for_write(settings.REDIS_URL) as conn:
            conn.ensure_connection(max_retries=1, timeout=1)
            replies = app.control.ping(timeout=1.0, connection=conn)
    except Exception as exc:  # noqa: BLE001
        logger.warning("health: worker check failed (%s)", type(exc).__name__)
        return False
    return bool(replies)


def readiness() -> dict[str, bool]:
    """Run every check now (about a second when a worker is to be pinged): ok per check."""
    db_ok, vector_ok = _check_database()
    redis_ok = _check_redis()
    return {
        "database": db_ok,
        "pgvector": vector_ok,
        "redis": redis_ok,
        "worker": redis_ok and _check_worker(),
    }


_lock = threading.Lock()
_cached: tuple[float, dict[str, bool]] | None = None


def readiness_cached() -> dict[str, bool]:
    """``readiness()``, at most once per ``HEALTH_READY_CACHE_SECONDS`` in this process; callers arriving while a
    check runs wait for its answer."""
    global _cached
    ttl = settings.HEALTH_READY_CACHE_SECONDS
    found = _cached
    if found is not None and time.monotonic() - found[0] < ttl:
        return found[1]
    with _lock:
        found = _cached
        if found is not None and time.monotonic() - found[0] < ttl:
            return found[1]
        checks = readiness()
        _cached = (time.monotonic(), checks)
        return checks


def readiness_forget() -> None:
    """Drop the kept answer (tests; an operator's shell)."""
    global _cached
    _cached = None


@never_cache
def live(request: HttpRequest) -> JsonResponse:
    """The process is up and answers: no database, no Redis."""
    return JsonResponse({"status": "ok"})


@never_cache
def ready(request: HttpRequest) -> JsonResponse:
    from config.ratelimit import hit

    try:
        allowed = hit(
            key=f"healthz:{client_ip(request)}",
            limit=settings.HEALTH_READY_PER_MINUTE,
            window_seconds=60,
        )
    except Exception:  # noqa: BLE001 - with the cache and its fallback down, the check below says so
        allowed = True
    if not allowed:
        response = JsonResponse({"status": "rate_limited"}, status=429)
        response["Retry-After"] = "60"
        return response
    checks = readiness_cached()
    healthy = all(checks.values())
    body = {
        "status": "ok" if healthy else "unhealthy",
        "checks": {name: {"ok": ok} for name, ok in checks.items()},
    }
    return JsonResponse(body, status=200 if healthy else 503)
