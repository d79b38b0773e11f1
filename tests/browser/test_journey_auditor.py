"""The auditor's journey: logs in with a code from the authenticator app, reads the audit log,
exports it (JSON Lines and CSV) and checks the export's leaf hashes by itself, then verifies the
log and the anchors on the verification page.

Bad things it would catch: an export that does not download or whose rows do not hash to their leaves,
a verification page that reports a broken chain on an untouched log, anchors shown as raw ISO
timestamps, an audit table wider than the screen.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from accounts import services as account_services
from compliance import services as compliance_services
from compliance.exports import FIELDS
from tests.accounts import factories
from tests.browser.conftest import requires_chromium

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), requires_chromium]

LEAF_FIELDS = [
    "action",
    "actor_id",
    "actor_label",
    "actor_role",
    "details_digest",
    "ip",
    "organisation_id",
    "outcome",
    "seq",
    "target_id",
    "target_type",
]


def _leaves_ok(rows: list[dict]) -> None:
    """Recompute each row's leaf hash (RFC 9162, the log's leaf format) and its details digest from
    the exported fields alone."""
    assert {*LEAF_FIELDS, "created_at", "leaf_hash", "leaf_index"} <= set(FIELDS)
    for row in rows:
        leaf = {f: row[f] for f in LEAF_FIELDS}
        at = datetime.fromisoformat(row["created_at"]).astimezone(UTC)
        leaf.update(v=1, at=at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
        data = json.dumps(leaf, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert hashlib.sha256(b"\x00" + data.encode()).hexdigest() == row["leaf_hash"], (
            f"row #{row['seq']} does not match its leaf hash"
        )
        if row["redacted_at"] is None:
            digest = json.dumps(
                row["details"], sort_keys=True, separators=(",", ":"), ensure_ascii=False
            )
            assert hashlib.sha256(digest.encode()).hexdigest() == row["details_digest"], (
                f"row #{row['seq']} details"
            )


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
    _leaves_ok(rows)
    with page.expect_download() as csv_download:
        page.get_by_role("link", name="CSV").click()
    with open(csv_download.value.path(), newline="") as fh:
        csv_rows = list(csv.DictReader(fh))
    # The CSV, made a moment later, holds the same rows and the audit event of the first export.
    assert {r["leaf_hash"] for r in rows} < {r["leaf_hash"] for r in csv_rows}, (
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
