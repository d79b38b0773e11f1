"""Invariant matrix: no secret in any log.

Guarantees (rows are ``"<guarantee> × <path>"``):

- **no secret in logs**: after a whole public journey (form, emailed confirmation link, emailed status link,
  withdrawal, links that are expired or wrong), no secret of an emailed link, nor its first 8 characters, is
  in anything the server wrote (stdout, stderr) nor in ``.data/*.log``. The servers are the real ones:
  ``manage.py runserver`` as ``make run`` starts it, and gunicorn with ``make serve``'s access-log settings,
  on the test database, driven over HTTP by httpx following the links in the ``.eml`` files the
  development email backend writes.
"""

from __future__ import annotations

import email
import re
import secrets
import time
from email import policy
from pathlib import Path

import httpx
import pytest

from subjects.models import SubjectRequest
from tests.invariants.logs_support import BASE_DIR, _server

pytestmark = pytest.mark.django_db(transaction=True)


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
