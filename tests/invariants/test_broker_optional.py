"""Invariant matrix: the broker optional for the web, cheap health checks.

Guarantees (rows are ``"<guarantee> × <path>"``):

- **broker optional**: from a *warm* process (it has already enqueued once with Redis up), Redis is stopped
  (broker, result backend and cache all on it); each path still answers as it does with Redis up, leaves its
  durable row, and the sweeper queues the row once Redis is back.
- **health × anonymous flood**: four threads calling the health endpoints do not wait for a worker ping each,
  and learn no version or worker count.
"""

from __future__ import annotations

import io
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import httpx
import pytest
import redis
from django.urls import reverse

from accounts.models import Role
from config import devservices, health
from search.models import SearchRequest
from subjects.models import SubjectRequest
from tests.accounts import factories
from tests.reliability.faults import fallback_cache_clear, redis_port, redis_stop
from tests.search import photos

pytestmark = pytest.mark.django_db(transaction=True)


SEARCH_FIELDS = {
    "purpose": "Identify a fraud suspect",
    "lawful_basis": "legitimate_interests",
    "case_reference": "CASE-18",
}


# --- broker optional -----------------------------------------------------------------------------------------


@contextmanager
def _celery_on(url: str) -> Iterator[None]:
    """Broker and result backend of this process's Celery app on ``url`` (the test client publishes from here)."""
    from config.celery import app

    old = app.conf.broker_url, app.conf.result_backend

    def switch(broker: str, backend: str) -> None:
        app.conf.broker_url, app.conf.result_backend = broker, backend
        app._pool = None
        app.amqp._producer_pool = None
        app._backend_cache = None
        app._local = threading.local()

    switch(url, url)
    try:
        yield
    finally:
        switch(*old)


@pytest.fixture
def warm_redis(settings, throwaway_redis) -> Iterator[str]:
    """Cache, broker and result backend on a throwaway redis-server that a test stops."""
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": throwaway_redis}}
    with _celery_on(throwaway_redis):
        yield throwaway_redis
    fallback_cache_clear()


def _api_search(client, user) -> int:
    token = factories.api_token(user)
    image = io.BytesIO(photos.photo("img2.jpg"))
    image.name = "probe.jpg"
    response = client.post(
        "/api/v1/searches/", {**SEARCH_FIELDS, "image": image}, HTTP_AUTHORIZATION=f"Token {token}"
    )
    assert response.status_code == 202, response.content[:1000]
    return response.json()["id"]


def _web_search(client, user) -> int:
    client.force_login(user)
    image = io.BytesIO(photos.photo("img2.jpg"))
    image.name = "probe.jpg"
    response = client.post(reverse("search:index"), {**SEARCH_FIELDS, "image": image})
    assert response.status_code == 302, response.content[:1000]
    return int(response["Location"].strip("/").split("/")[-1])


def _rights_request(client, user) -> int:
    response = client.post(
        reverse("subjects:request", args=["access"]),
        {"email": f"b-{secrets.token_hex(3)}@example.net"},
    )
    assert response.status_code == 302, response.content[:1000]
    assert "/rights/requests/" in response["Location"]
    return SubjectRequest.objects.latest("received_at").pk


def _crawl_start(client, user) -> int:
    from crawling import services as crawling_services

    source = crawling_services.source_add(
        name=f"Warm site {secrets.token_hex(3)}",
        scope=["http://127.0.0.1:9/"],
        jurisdictions=["FR"],
        lawful_basis="legitimate_interests",
        art9_condition="manifestly_public",
        dpia_reference="DPIA-18",
    )
    crawling_services.source_approve(source=source, actor=user)
    client.force_login(user)
    response = client.post(reverse("crawling:crawl", args=[source.pk]))
    assert response.status_code == 302 and "/sources/jobs/" in response["Location"], response.get(
        "Location"
    )
    return int(response["Location"].strip("/").split("/")[-1])


def _sweep_button(client, user) -> int:
    client.force_login(user)
    response = client.post(reverse("compliance:sweep_now"), {"kind": "retention"})
    assert response.status_code == 302, response.content[:1000]
    return 0


def _transparency_page(client, user) -> int:
    from django.core.cache import cache

    from compliance import transparency

    cache.delete(transparency.CHAIN_KEY)
    cache.delete(f"{transparency.CHAIN_KEY}:queued")
    response = client.get("/transparency/")
    assert response.status_code == 200, response.content[:1000]
    return 0


BROKER_PATHS = {
    "broker optional × API search from a warm process": (_api_search, "analyst", "gpu"),
    "broker optional × web search from a warm process": (_web_search, "analyst", "gpu"),
    "broker optional × rights request from a warm process": (_rights_request, "analyst", None),
    "broker optional × crawl start from a warm process": (_crawl_start, "dpo", "crawl"),
    "broker optional × DPO's retention sweep button from a warm process": (
        _sweep_button,
        "dpo",
        None,
    ),
    "broker optional × transparency report (queues a chain check) from a warm process": (
        _transparency_page,
        "analyst",
        None,
    ),
}


@pytest.mark.parametrize("path", list(BROKER_PATHS), ids=list(BROKER_PATHS))
def test_broker_down_in_a_warm_process(path, client, dpo, warm_redis, tmp_path):
    """Input: the path once with Redis up (the process is now connected), Redis stopped, the path twice more; each
    answer is asserted to be what it is with Redis up (no 500, no 503)."""
    action, persona, queue = BROKER_PATHS[path]
    user = (
        dpo
        if persona == "dpo"
        else factories.member(factories.organisation("Warm Ltd"), role=Role.ANALYST)
    )
    broker = redis.Redis.from_url(warm_redis)
    action(client, user)  # warm: enqueued through a live connection
    broker.flushdb()
    redis_stop(warm_redis)
    client.raise_request_exception = False
    action(client, user)  # the first enqueue after the loss fails fast (kombu's OperationalError)
    started = time.monotonic()
    row = action(
        client, user
    )  # the next one hit the result backend's reconnect: 20 s, then RuntimeError, a 500
    assert time.monotonic() - started < 10, "the request waited for the broker"
    if queue is None:
        return
    if queue == "gpu":
        assert (
            SearchRequest.objects.get(pk=row).status == SearchRequest.Status.PENDING
        )  # the durable row waits
    else:
        from crawling.models import CrawlJob

        assert CrawlJob.objects.get(pk=row).status == CrawlJob.Status.QUEUED
    devservices.start_redis_daemon(
        tmp_path / "redis", redis_port(warm_redis)
    )  # the throwaway_redis fixture's folder
    if queue == "gpu":
        from search import services as search_services

        assert search_services.searches_requeue_stuck(older_than=timedelta(0))["searches"] >= 1
    else:
        from crawling import services as crawling_services

        assert crawling_services.crawl_jobs_requeue_stalled(stalled_after_seconds=0) >= 1
    assert redis.Redis.from_url(warm_redis).llen(queue) >= 1  # the sweeper queued the row


# --- health ------------------------------------------------------------------------------------------------------


def _flood(url: str, threads: int = 4, calls: int = 10) -> tuple[float, list[httpx.Response]]:
    answers: list[httpx.Response] = []

    def hammer() -> None:
        with httpx.Client(timeout=30) as c:
            for _ in range(calls):
                answers.append(c.get(url))

    started = time.monotonic()
    workers = [threading.Thread(target=hammer) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return time.monotonic() - started, answers


@pytest.mark.parametrize(
    "endpoint",
    ["/healthz", "/healthz/ready"],
    ids=[
        "health × anonymous flood of /healthz (liveness)",
        "health × anonymous flood of /healthz/ready (readiness)",
    ],
)
def test_health_flood_costs_one_check(endpoint, live_server, settings):
    """Input: 4 threads × 10 anonymous calls; the broker answers but no worker listens, so each worker ping
    waits its full second. Liveness does no I/O; readiness runs its checks once for all 40 calls."""
    settings.HEALTH_READY_CACHE_SECONDS = 30
    health.readiness_forget()
    with connection_version() as version:
        elapsed, answers = _flood(live_server.url + endpoint)
    assert len(answers) == 40 and {a.status_code for a in answers} <= {200, 503}
    assert elapsed < 5, f"40 health calls took {elapsed:.1f} s"
    for answer in answers:
        assert (
            version not in answer.text
            and "worker(s)" not in answer.text
            and "detail" not in answer.text
        )
    health.readiness_forget()


@contextmanager
def connection_version() -> Iterator[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        (version,) = cursor.fetchone()
    yield version
