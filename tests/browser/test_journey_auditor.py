"""The auditor's journey: logs in with a code from the authenticator app, reads the audit log,
exports it (JSON Lines and CSV) and checks the export's hash chain by itself, then verifies the
chain and the anchors on the verification page.

Bad things it would catch: an export that does not download or whose rows do not hash to the chain,
a verification page that reports a broken chain on an untouched log, anchors shown as raw ISO
timestamps, an audit table wider than the screen.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from pathlib import Path

import pytest

from accounts import services as account_services
from compliance import services as compliance_services
from compliance.exports import FIELDS
from tests.accounts import factories
from tests.browser.conftest import requires_chromium

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), requires_chromium]

HASHED = [f for f in FIELDS if f not in ("details", "redacted_at", "row_hash")]


def _chain_ok(rows: list[dict]) -> str:
    """Recompute each row's hash from the exported fields, and each link to the row before; returns the last hash."""
    rows = sorted(rows, key=lambda r: r["seq"])
    prev = compliance_services.GENESIS_HASH
    for row in rows:
        assert row["prev_hash"] == prev, f"row #{row['seq']} does not link to the row before it"
        payload = json.dumps(
            {f: row[f] for f in HASHED}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        assert hashlib.sha256(payload.encode()).hexdigest() == row["row_hash"], (
            f"row #{row['seq']} does not match its hash"
        )
        if row["redacted_at"] is None:
            digest = json.dumps(
                row["details"], sort_keys=True, separators=(",", ":"), ensure_ascii=False
            )
            assert hashlib.sha256(digest.encode()).hexdigest() == row["details_digest"], (
                f"row #{row['seq']} details"
            )
        prev = row["row_hash"]
    return prev


def test_auditor_exports_and_verifies(journey, settings, tmp_path):
    settings.AUDIT_ANCHOR_DIR = tmp_path / "anchors"
    # Some history: an organisation with its admin invited, a token; then the daily anchor; then more.
    org = account_services.organisation_create(
        name="Acme Investigations", admin_email="owner@acme.example"
    )
    admin = account_services.admin_ensure(
        email="admin@facesearch.example", password=factories.PASSWORD
    ).user
    compliance_services.audit_anchor_write()
    account_services.invitation_create(
        organisation=org, email="analyst@acme.example", role="analyst", invited_by=admin
    )
    auditor = factories.staff("auditor", email="auditor@facesearch.example")
    secret = factories.with_totp(auditor)
    j, page = journey, journey.page

    j.log_in(auditor.email, totp_secret=secret)
    j.step("logged in")
    assert "Go to the staff pages" not in j.visible_text(), (
        "the auditor's home page shows nothing useful"
    )
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Staff").click()
    page.get_by_role("link", name="Audit log", exact=True).first.click()
    page.get_by_role("heading", name="Audit log").wait_for()
    table = page.get_by_role("table").inner_text()
    assert "accounts.invitation.created" in table and "accounts.organisation.created" in table, (
        table
    )
    j.step("audit log", check_dates=False)  # an auditor reads times to the second (UTC), by design

    with page.expect_download() as jsonl_download:
        page.get_by_role("link", name="JSONL").click()
    jsonl = Path(jsonl_download.value.path()).read_text()
    rows = [json.loads(line) for line in jsonl.splitlines()]
    assert any(r["action"] == "compliance.audit_log.exported" for r in rows), (
        "the export itself is not in the log"
    )
    exported_last_hash = _chain_ok(rows)
    with page.expect_download() as csv_download:
        page.get_by_role("link", name="CSV").click()
    with open(csv_download.value.path(), newline="") as fh:
        csv_rows = list(csv.DictReader(fh))
    # The CSV, made a moment later, holds the same rows and the audit event of the first export.
    assert {r["row_hash"] for r in rows} < {r["row_hash"] for r in csv_rows}, (
        "the CSV and JSONL exports disagree"
    )
    assert len(csv_rows) == len(rows) + 1
    j.step("exported", check_dates=False)  # still the audit log

    page.get_by_role("link", name="Verify the chain and anchors").click()
    status = (
        page.get_by_role("paragraph").filter(has_text=re.compile("^(Intact|Broken)")).inner_text()
    )
    assert status.startswith("Intact"), status
    assert "1 anchor(s) matched" in status, status
    verified = int(j.found(r"(\d+) events verified", status, 1))
    assert verified >= len(rows)
    # The chain the page verified runs through the last row of the export.
    last_seq = max(r["seq"] for r in rows)
    if int(j.found(r"last #(\d+)", status, 1)) == last_seq:
        assert exported_last_hash in j.visible_text()
    j.step("chain verified")

    # The dashboard's charts can be read, on a laptop and on a phone.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Staff").click()
    page.get_by_role("link", name="Dashboard").click()
    page.get_by_role("heading", level=1).wait_for()
    j.step("dashboard")
    j.assert_charts_readable()
    j.assert_fits(1280)
    j.assert_fits(375)

    # The audit table fits the screen, a laptop's and a phone's.
    j.goto("/staff/audit/")
    j.assert_fits(1280)
    j.assert_fits(375)
    j.finish()
