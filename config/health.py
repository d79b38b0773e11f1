"""``/healthz``: database, pgvector, Redis and a Celery worker, as JSON (200 or 503)."""

from __future__ import annotations

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache


def _check_database() -> tuple[bool, bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
            row = cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure is "unhealthy", reported by class name
        return False, False, type(exc).__name__
    return True, row is not None, row[0] if row else "extension missing"


def _check_redis() -> tuple[bool, str]:
    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
        client.ping()
    except Exception as exc:  # noqa: BLE001
        return False, type(exc).__name__
    return True, "ok"


def _check_worker() -> tuple[bool, str]:
    from config.celery import app

    try:
        with app.connection_for_write(settings.REDIS_URL) as conn:
            conn.ensure_connection(max_retries=1, timeout=1)
            replies = app.control.ping(timeout=1.0, connection=conn)
    except Exception as exc:  # noqa: BLE001
        return False, type(exc).__name__
    return bool(replies), f"{len(replies)} worker(s) answered" if replies else "no worker answered"


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    db_ok, vector_ok, vector_detail = _check_database()
    redis_ok, redis_detail = _check_redis()
    worker_ok, worker_detail = _check_worker() if redis_ok else (False, "broker unreachable")
    checks: dict[str, dict[str, bool | str]] = {
        "database": {"ok": db_ok},
        "pgvector": {"ok": vector_ok, "detail": vector_detail},
        "redis": {"ok": redis_ok, "detail": redis_detail},
        "worker": {"ok": worker_ok, "detail": worker_detail},
    }
    healthy = all(c["ok"] for c in checks.values())
    return JsonResponse({"status": "ok" if healthy else "unhealthy", "checks": checks}, status=200 if healthy else 503)
