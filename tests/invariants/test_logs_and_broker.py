"""Invariant matrix: no secret in any log, the broker optional for the web, cheap health checks, hostile input.

Guarantees (rows are ``"<guarantee> × <path>"``):

- **no secret in logs**: after a whole public journey (form, emailed confirmation link, emailed status link,
  withdrawal, links that are expired or wrong), no secret of an emailed link, nor its first 8 characters, is
  in anything the server wrote (stdout, stderr) nor in ``.data/*.log``. The servers are the real ones:
  ``manage.py runserver`` as ``make run`` starts it, and gunicorn with ``make serve``'s access-log settings,
  on the test database, driven over HTTP by httpx following the links in the ``.eml`` files the
  development email backend writes.
- **broker optional**: from a *warm* process (it has already enqueued once with Redis up), Redis is stopped
  (broker, result backend and cache all on it); each path still answers as it does with Redis up, leaves its
  durable row, and the sweeper queues the row once Redis is back.
- **health × anonymous flood**: four threads calling the health endpoints do not wait for a worker ping each,
  and learn no version or worker count.
- **CSV injection**: a cell a spreadsheet would run as a formula is written as text.
- **bad input**: a NUL in a cookie, a path or a query gives a plain 400, not a traceback page.
"""

from __future__ import annotations

import csv
import email
import io
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from email import policy
from pathlib import Path

import httpx
import pytest
import redis
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse

from accounts.models import Role
from config import devservices, health
from search.models import SearchRequest
from subjects.models import SubjectRequest
from tests.accounts import factories
from tests.reliability.faults import fallback_cache_clear, redis_port, redis_stop
from tests.search import photos

pytestmark = pytest.mark.django_db(transaction=True)

BASE_DIR = Path(__file__).resolve().parents[2]
SEARCH_FIELDS = {
    "purpose": "Identify a fraud suspect",
    "lawful_basis": "legitimate_interests",
    "case_reference": "CASE-18",
}


# --- no secret in logs --------------------------------------------------------------------------------------


def _wait_until_up(base: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited: {log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"the server did not answer: {log.read_text()[-3000:]}")


def _serve_command(kind: str, port: int) -> list[str]:
    if kind == "runserver":  # as config/runner.py (make run) starts the web
        return [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]
    # make serve's gunicorn, with its access-log settings (gunicorn.conf.py), one worker
    serve = re.search(
        r"^serve:.*?\n((?:\t.*\n)+)", (BASE_DIR / "Makefile").read_text(), re.MULTILINE
    )
    assert serve and "--config gunicorn.conf.py" in serve.group(1), (
        "make serve must use gunicorn.conf.py"
    )
    assert "--access-logformat" not in serve.group(1) and "--access-logfile" not in serve.group(1)
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    return [
        gunicorn,
        "config.wsgi:application",
        "--config",
        "gunicorn.conf.py",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "1",
    ]


@contextmanager
def _server(kind: str, tmp_path: Path) -> Iterator[tuple[str, Path, Path]]:
    """The real server on the test database; yields its base URL, its captured output and its mail folder."""
    port = devservices.free_port()
    base = f"http://127.0.0.1:{port}"
    mail_dir = tmp_path / "mail"
    env = {k: v for k, v in os.environ.items() if k not in ("EMAIL_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",  # the settings `make run` and `make serve` use
        DATABASE_URL=devservices.database_url(settings.DATABASES["default"]),
        REDIS_URL=settings.REDIS_URL,
        SITE_URL=base,
        EMAIL_FILE_PATH=str(mail_dir),
        PYTHONUNBUFFERED="1",
    )
    log = tmp_path / f"{kind}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            _serve_command(kind, port), cwd=BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        _wait_until_up(base, proc, log)
        yield base, log, mail_dir
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _emails(mail_dir: Path) -> list[str]:
    bodies = []
    for path in sorted(mail_dir.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        part = message.get_body(preferencelist=("plain",))
        bodies.append(part.get_content() if part else "")
    return bodies


def _link(bodies: list[str], base: str, name: str) -> str:
    for body in bodies:
        found = re.search(re.escape(base) + r"(/rights/" + name + r"/[^\s]+/)", body)
        if found:
            return found.group(1)
    raise AssertionError(f"no {name} link in the emails: {bodies}")


def _csrf(client: httpx.Client, url: str) -> str:
    page = client.get(url)
    assert page.status_code == 200, page.text[:500]
    return client.cookies["csrftoken"]


def public_journey(base: str, mail_dir: Path) -> tuple[list[str], str]:
    """A person files an access request, confirms it from the email in another browser, opens the status page
    from the email, withdraws; expired and mistyped links are opened too. Returns the secrets seen and the
    reference."""
    form = f"{base}/rights/request/access/"
    with httpx.Client(base_url=base, timeout=60) as browser:
        csrf = _csrf(browser, form)
        sent = browser.post(
            form,
            data={"email": f"log-{secrets.token_hex(4)}@example.net", "csrfmiddlewaretoken": csrf},
            headers={"Referer": form},
        )
        assert sent.status_code == 302, sent.text[:2000]
        reference = SubjectRequest.objects.latest("received_at").reference
        assert (
            sent.headers["Location"] == f"/rights/requests/{reference}/"
        )  # the redirect carries no secret
        assert reference in browser.get(sent.headers["Location"]).text
    deadline = time.monotonic() + 20
    while not _emails(mail_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    bodies = _emails(mail_dir)
    verify_path, status_path = _link(bodies, base, "verify"), _link(bodies, base, "requests")
    verify_token, status_token = (
        verify_path.rstrip("/").rsplit("/", 1)[1],
        status_path.rstrip("/").rsplit("/", 1)[1],
    )
    mistyped = [secrets.token_urlsafe(32), secrets.token_hex(20), secrets.token_urlsafe(24)]
    with httpx.Client(base_url=base, timeout=60) as other_browser:  # the email opened elsewhere
        page = other_browser.get(verify_path)
        assert page.status_code == 200 and "Confirm my request" in page.text
        csrf = other_browser.cookies["csrftoken"]
        confirmed = other_browser.post(
            "/rights/verify/",
            data={"csrfmiddlewaretoken": csrf},
            headers={"Referer": base + "/rights/verify/"},
        )
        assert confirmed.status_code == 302 and confirmed.headers["Location"] == "/rights/verify/"
        assert other_browser.get("/rights/verify/").status_code == 200
        status = other_browser.get(status_path)
        assert (
            status.status_code == 200 and status_token not in status.text
        )  # its links are token-free
        ask = other_browser.get(f"/rights/requests/{reference}/withdraw/")
        assert ask.status_code == 200
        withdrawn = other_browser.post(
            f"/rights/requests/{reference}/withdraw/",
            data={"csrfmiddlewaretoken": csrf},
            headers={"Referer": base + f"/rights/requests/{reference}/withdraw/"},
        )
        assert withdrawn.status_code == 302, withdrawn.text[:1000]
        assert (
            SubjectRequest.objects.get(reference=reference).status
            == SubjectRequest.Status.WITHDRAWN
        )
        # Links that no longer work or never did: 404s, which django.request logs with their path.
        assert other_browser.get(verify_path.replace(verify_token, mistyped[0])).status_code == 404
        assert other_browser.get(f"/rights/requests/{reference}/{mistyped[1]}/").status_code == 404
        assert other_browser.get(f"/rights/package/{mistyped[2]}/").status_code == 404
        assert (
            other_browser.get(f"/rights/package/{mistyped[2]}/?token={mistyped[2]}").status_code
            == 404
        )
        # The other emailed secrets: an invitation, allauth's e-mail confirmation and password reset.
        others = [secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(24)]
        for path in (
            f"/org/invitations/accept/{others[0]}/",
            f"/accounts/confirm-email/{others[1]}/",
            f"/accounts/password/reset/key/1z-{others[2]}/",
        ):
            assert other_browser.get(path).status_code < 500
    return [verify_token, status_token, *mistyped, *others], reference


@pytest.mark.parametrize(
    "kind",
    ["runserver", "gunicorn"],
    ids=[
        "no secret in logs × runserver (make run) public journey",
        "no secret in logs × gunicorn (make serve) public journey",
    ],
)
def test_no_secret_reaches_a_log_line(kind, tmp_path):
    """Input: a whole public journey over HTTP against the real server, following the links of the real emails."""
    with _server(kind, tmp_path) as (base, log, mail_dir):
        tokens, reference = public_journey(base, mail_dir)
        time.sleep(0.5)  # the last access-log lines are flushed
    written = log.read_text(errors="replace")
    written += "".join(p.read_text(errors="replace") for p in (BASE_DIR / ".data").glob("*.log"))
    assert (
        f"/rights/requests/{reference}/" in written and "[redacted]" in written
    )  # the requests were logged
    for token in tokens:
        assert token not in written, f"a secret link's token is in a log: {token[:4]}…"
        assert token[:8] not in written, f"a secret link's token prefix is in a log: {token[:4]}…"


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


# --- CSV injection ----------------------------------------------------------------------------------------------


def _export_page(client, auditor) -> str:
    client.force_login(auditor)
    response = client.get(reverse("compliance:audit_export"), {"format": "csv"})
    assert response.status_code == 200
    return b"".join(response.streaming_content).decode()


def _export_command(client, auditor) -> str:
    from compliance.services import audit_record

    audit_record(actor=auditor, action="tests.csv", target="tests.csv", outcome="success")
    out = Path(settings.AUDIT_ANCHOR_DIR) / f"export-{secrets.token_hex(4)}.csv"
    call_command("audit_export", "--format", "csv", "--output", str(out))
    try:
        return out.read_text()
    finally:
        out.unlink()


@pytest.mark.parametrize(
    ("exporter", "address"),
    [
        (_export_page, "=2+5@acme.example"),
        (_export_page, "+2+5@acme.example"),
        (_export_page, "-2+5@acme.example"),
        (_export_command, "=hyperlink@acme.example"),
    ],
    ids=[
        "CSV injection × audit export page (email starting with =)",
        "CSV injection × audit export page (email starting with +)",
        "CSV injection × audit export page (email starting with -)",
        "CSV injection × audit_export command (email starting with =)",
    ],
)
def test_csv_cells_never_start_a_formula(exporter, address, client):
    """Input: an auditor whose address starts with a formula character; the log's CSV export, read back."""
    auditor = factories.staff("auditor", email=address)
    factories.with_totp(auditor)
    rows = list(csv.DictReader(io.StringIO(exporter(client, auditor))))
    labels = [row["actor_label"] for row in rows if address in row["actor_label"]]
    assert labels, "the auditor's own event is in the export"
    assert all(label == "'" + address for label in labels), labels
    for row in rows:
        for value in row.values():
            assert not (value or "").startswith(("=", "+", "-", "@", "\t", "\r")), value


# --- bad input -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "cookie"),
    [
        ("/rights/", "sessionid=abc\x00def"),
        ("/accounts/login/", "sessionid=\x00"),
        ("/rights/requests/R-%00/", ""),
        ("/staff/?show=%00", ""),
    ],
    ids=[
        "bad input × NUL in the session cookie (public page)",
        "bad input × NUL as the whole session cookie (login page)",
        "bad input × NUL in a path's reference",
        "bad input × NUL in a query value",
    ],
)
def test_nul_gives_a_plain_400(path, cookie, client):
    """Input: a NUL byte where the server reads text before any form validates it."""
    client.raise_request_exception = False
    headers = {"HTTP_COOKIE": cookie} if cookie else {}
    response = client.get(path, **headers)
    assert response.status_code == 400, response.status_code
    assert b"Traceback" not in response.content and b"Bad request" in response.content


def test_nul_in_the_session_cookie_on_the_development_server(tmp_path):
    """bad input × NUL in the session cookie on runserver (DEBUG): a 400 page, no traceback.
    Input: a raw HTTP request (httpx refuses to send a NUL) with ``Cookie: sessionid=a<NUL>b``."""
    with _server("runserver", tmp_path) as (base, log, _mail):
        port = int(base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(
                b"GET /rights/ HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: sessionid=a\x00b\r\nConnection: close\r\n\r\n"
            )
            raw = b""
            while chunk := sock.recv(65536):
                raw += chunk
    status_line = raw.split(b"\r\n", 1)[0]
    assert b" 400 " in status_line, raw[:500]
    assert b"Traceback" not in raw and b"ValueError" not in raw
    assert "Traceback" not in log.read_text(errors="replace")
