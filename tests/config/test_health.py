"""/healthz: database, pgvector, Redis and a worker; 503 when Redis is down."""

from __future__ import annotations

import pytest

from config import devservices

pytestmark = pytest.mark.django_db(transaction=True)


def test_healthy_with_worker(client, celery_worker_process):
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert body["checks"]["pgvector"]["ok"] is True
    assert body["checks"]["worker"]["ok"] is True


def test_unhealthy_when_redis_is_stopped(client, settings, tmp_path):
    port = devservices.free_port()
    directory = tmp_path / "redis"
    devservices.start_redis_daemon(directory, port)
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"
    settings.CELERY_BROKER_URL = settings.REDIS_URL
    up = client.get("/healthz").json()
    assert up["checks"]["redis"]["ok"] is True
    assert up["checks"]["worker"]["ok"] is False  # no worker listens on this Redis

    devservices.stop_redis_daemon(directory, port)
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "unhealthy"
    assert body["checks"]["redis"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True
