"""Outages of real processes: Redis stopped, PostgreSQL stopped for 10 s. Nothing may answer 500.

Requests go over real sockets to the live test server. Redis: the cache and the Celery broker
are pointed at a throwaway redis-server, which is then shut down (and later started again).
PostgreSQL: this checkout's embedded server is stopped with ``pg_ctl stop`` and started again;
the test server and this process reconnect without a restart (CONN_HEALTH_CHECKS).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import redis
from django.conf import settings
from django.core import mail
from django.db import connection

from accounts.models import Role
from search import services as search_services
from search.models import SearchRequest
from subjects.models import SubjectRequest
from tests.accounts import factories
from tests.accounts.factories import api_token
from tests.reliability.faults import fallback_cache_clear, redis_port, redis_stop
from tests.search import photos

pytestmark = pytest.mark.django_db(transaction=True)

FIELDS = {
    "purpose": "Identify a fraud suspect",
    "lawful_basis": "legitimate_interests",
    "case_reference": "CASE-7",
}


# --- helpers ------------------------------------------------------------------------------


@contextmanager
def celery_broker(url: str) -> Iterator[None]:
    """Point this process's Celery producer at another broker (the test server publishes from here)."""
    from config.celery import app

    old = app.conf.broker_url

    def switch(to: str) -> None:
        app.conf.broker_url = to
        app._pool = None
        app.amqp._producer_pool = None

    switch(url)
    try:
        yield
    finally:
        switch(old)


@pytest.fixture
def redis_down(settings, throwaway_redis, tmp_path) -> Iterator[str]:
    """Cache and broker on a throwaway redis-server that is stopped; yields its URL (to restart it)."""
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": throwaway_redis}}
    with celery_broker(throwaway_redis):
        redis_stop(throwaway_redis)
        fallback_cache_clear()
        yield throwaway_redis


def fallback_rows() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM cache_fallback")
        return int(cursor.fetchone()[0])


def csrf_client(url: str) -> tuple[httpx.Client, str]:
    """A client holding the CSRF cookie of the form at ``url`` (close it after use)."""
    client = httpx.Client(timeout=60, follow_redirects=False)
    page = client.get(url)
    assert page.status_code == 200, page.text[:500]
    return client, client.cookies["csrftoken"]


def login(live_server, email: str, password: str) -> httpx.Response:
    url = f"{live_server.url}/accounts/login/"
    client, csrf = csrf_client(url)
    try:
        return client.post(
            url,
            data={"login": email, "password": password, "csrfmiddlewaretoken": csrf},
            headers={"Referer": url},
        )
    finally:
        client.close()


def login_cookies(live_server, user) -> dict[str, str]:
    """A logged-in session (its row is in the database) for ``user``."""
    url = f"{live_server.url}/accounts/login/"
    client, csrf = csrf_client(url)
    try:
        response = client.post(
            url,
            data={"login": user.email, "password": factories.PASSWORD, "csrfmiddlewaretoken": csrf},
            headers={"Referer": url},
        )
        assert response.status_code == 302
        return {"sessionid": client.cookies["sessionid"]}
    finally:
        client.close()


@pytest.fixture
def analyst(db):
    org = factories.organisation("Outage Ltd")
    return factories.member(org, role=Role.ANALYST, email="outage@acme.example")


# --- Redis down ------------------------------------------------------------------------------


def test_redis_down_login_works_and_stays_rate_limited(live_server, settings, analyst, redis_down):
    """Bad input: 5 wrong passwords while Redis is stopped; the limit is counted in the database, not dropped."""
    settings.ACCOUNT_RATE_LIMITS = {
        **settings.ACCOUNT_RATE_LIMITS,
        "login_failed": "100/m/ip,5/5m/key",
    }
    assert (
        login(live_server, analyst.email, factories.PASSWORD).status_code == 302
    )  # logs in without Redis
    for _ in range(5):
        wrong = login(live_server, analyst.email, "not the password")
        assert wrong.status_code == 200 and "not correct" in wrong.text
    refused = login(live_server, analyst.email, factories.PASSWORD)
    assert refused.status_code == 200
    assert "Too many failed login attempts" in refused.text
    assert fallback_rows() > 0


def test_redis_down_search_is_accepted_and_queued_when_redis_is_back(
    live_server, analyst, redis_down, tmp_path
):
    """Bad input: a search while the broker is stopped: 202 and a durable row; the sweeper queues it later."""
    from config import devservices

    token = api_token(analyst)
    with httpx.Client(timeout=60) as client:
        response = client.post(
            f"{live_server.url}/api/v1/searches/",
            headers={"Authorization": f"Token {token}"},
            data=FIELDS,
            files={"image": ("probe.jpg", photos.photo("img2.jpg"), "image/jpeg")},
        )
    assert response.status_code == 202, response.text
    search = SearchRequest.objects.get(pk=response.json()["id"])
    assert search.status == SearchRequest.Status.PENDING and search.probe
    # Redis comes back (same port, empty): the sweeper re-queues the pending search.
    devservices.start_redis_daemon(tmp_path / "redis", redis_port(redis_down))
    broker = redis.Redis.from_url(redis_down)
    assert broker.llen("gpu") == 0
    counts = search_services.searches_requeue_stuck(older_than=timedelta(0))
    assert counts["searches"] == 1
    assert broker.llen("gpu") == 1
    Path(settings.MEDIA_ROOT, search.probe.name).unlink(missing_ok=True)


def test_redis_down_public_request_is_accepted_and_emailed(live_server, redis_down):
    """Bad input: a public request while Redis is stopped: filed (a database row), confirmation emailed."""
    url = f"{live_server.url}/rights/request/access/"
    client, csrf = csrf_client(url)
    try:
        response = client.post(
            url,
            data={"email": "someone@example.net", "csrfmiddlewaretoken": csrf},
            headers={"Referer": url},
        )
    finally:
        client.close()
    assert response.status_code == 302, response.text[:1000]  # redirected to the status page
    request = SubjectRequest.objects.get(email="someone@example.net")
    assert request.status == SubjectRequest.Status.AWAITING_VERIFICATION
    assert any(request.reference in m.subject for m in mail.outbox)
    assert fallback_rows() > 0  # its rate limit was counted in the database


# --- PostgreSQL down -----------------------------------------------------------------------------


@pytest.mark.serial
def test_postgres_down_for_10_seconds_gives_503_then_recovers(live_server, analyst):
    """Bad input: every kind of request while PostgreSQL is stopped: 503 (JSON + Retry-After for the API)."""
    from config import devservices

    token = api_token(analyst)
    api = {"Authorization": f"Token {token}"}
    before = settings.DATABASES["default"]["HOST"], settings.DATABASES["default"]["PORT"]
    with httpx.Client(timeout=30, base_url=live_server.url) as client:
        assert client.get("/api/v1/searches/999999/", headers=api).status_code == 404
        people = httpx.Client(
            timeout=30, base_url=live_server.url, cookies=login_cookies(live_server, analyst)
        )
        assert people.get("/search/").status_code == 200
        devservices.stop_postgres()
        stopped = time.monotonic()
        try:
            rounds = 0
            while time.monotonic() - stopped < 10:
                r = client.get("/api/v1/searches/999999/", headers=api)
                assert r.status_code == 503, r.text[:500]
                assert r.json()["error"]["code"] == "unavailable" and r.json()["error"]["message"]
                assert int(r.headers["Retry-After"]) > 0
                r = client.post("/api/v1/searches/", headers=api, data=FIELDS)
                assert r.status_code == 503 and r.json()["error"]["code"] == "unavailable"
                for path in ("/rights/", "/rights/request/access/", "/search/?page=1"):
                    page = people.get(path)
                    assert page.status_code == 503, (path, page.text[:500])
                    assert "Temporarily unavailable" in page.text and page.headers["Retry-After"]
                    assert not re.search(r"Traceback|Internal Server Error", page.text)
                for path in (
                    "/",
                    "/accounts/login/",
                    "/healthz",
                ):  # may answer without the database, never 500
                    assert client.get(path).status_code in (200, 302, 503), path
                rounds += 1
                time.sleep(0.5)
            assert rounds >= 3
        finally:
            after = devservices.ensure_postgres()
            connection.close()  # this thread's connection died with the server; the next query reconnects
        assert (after["HOST"], str(after["PORT"])) == (before[0], str(before[1]))  # same server
        # Recovery without restarting anything.
        deadline = time.monotonic() + 20
        while (r := client.get("/api/v1/searches/999999/", headers=api)).status_code == 503:
            assert time.monotonic() < deadline, "no recovery after PostgreSQL came back"
            time.sleep(0.5)
        assert r.status_code == 404
        assert client.get("/rights/").status_code == 200
        assert people.get("/search/").status_code == 200
        people.close()


# --- mail server down: the durable outbox ------------------------------------------------------


def test_mail_server_down_request_is_filed_and_its_email_sent_later(live_server, settings):
    """Bad input: a public request while the SMTP server refuses connections: filed, email kept, sent once it is back."""
    from config import devservices
    from outbox.models import OutboundEmail
    from outbox.services import emails_send_pending

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = (
        "127.0.0.1",
        devservices.free_port(),
        2,
    )
    url = f"{live_server.url}/rights/request/erasure/"
    client, csrf = csrf_client(url)
    try:
        response = client.post(
            url,
            data={"email": "later@example.net", "csrfmiddlewaretoken": csrf},
            headers={"Referer": url},
        )
    finally:
        client.close()
    assert response.status_code == 302, response.text[:1000]  # redirected to the status page
    request = SubjectRequest.objects.get(email="later@example.net")
    queued = OutboundEmail.objects.get()
    assert (
        queued.to == ["later@example.net"]
        and request.reference in queued.subject
        and queued.attempts == 1
    )
    assert emails_send_pending() == 0  # still down: kept, counted
    assert OutboundEmail.objects.get().attempts == 2
    settings.EMAIL_BACKEND = (
        "django.core.mail.backends.locmem.EmailBackend"  # the mail server is back
    )
    mail.outbox.clear()
    assert emails_send_pending() == 1
    assert emails_send_pending() == 0  # idempotent: nothing sent twice
    assert [m.to for m in mail.outbox] == [["later@example.net"]]
    assert "/rights/verify/" in mail.outbox[0].body
    assert not OutboundEmail.objects.exists()
