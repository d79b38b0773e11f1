"""Health: liveness answers from the process; readiness checks database, pgvector, Redis and a worker,
ok per check only (no versions, no counts), kept a few seconds, 503 when Redis is down."""

from __future__ import annotations

import pytest
from django.db import connection

from config import devservices, health

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh_readiness(settings):
    settings.HEALTH_READY_CACHE_SECONDS = 0  # each call checks again, unless a test says otherwise
    health.readiness_forget()
    yield
    health.readiness_forget()


def test_liveness_does_no_io(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert client.get("/healthz/live").json() == {"status": "ok"}


def test_ready_with_worker(client, celery_worker_process):
    response = client.get("/healthz/ready")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert body["checks"]["pgvector"] == {"ok": True}
    assert body["checks"]["worker"] == {"ok": True}
    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        (version,) = cursor.fetchone()
    assert version not in response.content.decode() and "worker(s)" not in response.content.decode()


def test_unhealthy_when_redis_is_stopped(client, settings, tmp_path):
    port = devservices.free_port()
    directory = tmp_path / "redis"
    devservices.start_redis_daemon(directory, port)
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"
    settings.CELERY_BROKER_URL = settings.REDIS_URL
    up = client.get("/healthz/ready").json()
    assert up["checks"]["redis"]["ok"] is True
    assert up["checks"]["worker"]["ok"] is False  # no worker listens on this Redis

    devservices.stop_redis_daemon(directory, port)
    response = client.get("/healthz/ready")
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "unhealthy"
    assert body["checks"]["redis"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True
    assert client.get("/healthz").status_code == 200  # the process itself is alive


def test_readiness_is_kept_and_rate_limited(client, settings, django_assert_max_num_queries):
    settings.HEALTH_READY_CACHE_SECONDS = 60
    settings.HEALTH_READY_PER_MINUTE = 5
    first = client.get("/healthz/ready")
    assert first.status_code in (200, 503)
    with django_assert_max_num_queries(
        5 * 3
    ):  # the rate limit's counter at most; no check runs again
        answers = [client.get("/healthz/ready").status_code for _ in range(6)]
    assert answers[:4] == [first.status_code] * 4 and answers[-1] == 429
