"""Invariant matrix: hostile input.

Guarantees (rows are ``"<guarantee> × <path>"``):

- **CSV injection**: a cell a spreadsheet would run as a formula is written as text.
- **bad input**: a NUL in a cookie, a path or a query gives a plain 400, not a traceback page.
"""

from __future__ import annotations

import csv
import io
import secrets
import socket
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse

from tests.accounts import factories
from tests.invariants.logs_support import _server

pytestmark = pytest.mark.django_db(transaction=True)


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
    # Alone in its process, nothing has made the anchor folder yet (it ran after the log tests before).
    out.parent.mkdir(parents=True, exist_ok=True)
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
