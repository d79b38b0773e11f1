"""The details check of verification, in this process (small logs) and in a second process (large
logs, beside the tree): an edited detail, a redacted row given its details back, and an intact log.

Inputs tried: a detail rewritten with the trigger disabled (digest kept), a redacted row whose
``{"redacted": true}`` is replaced by the original details, and an untouched log; each with the
second process forced on (``parallel_after=0``, chunks of 3 rows) and off."""

from __future__ import annotations

import pytest
from django.db import connection

from audit.selectors import audit_chain_verify
from audit.services import audit_event_redact, audit_record
from audit.tlog import sequence_all


@pytest.fixture(autouse=True)
def anchor_dir(settings, tmp_path):
    settings.AUDIT_ANCHOR_DIR = tmp_path / "anchors"


def _write(n: int) -> list:
    return [
        audit_record(
            actor=None,
            action=f"tests.details.{i}",
            target="thing",
            outcome="success",
            details={"i": i, "note": "é"},
        )
        for i in range(n)
    ]


def _tamper(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "ALTER TABLE compliance_auditevent DISABLE TRIGGER compliance_auditevent_no_update_delete"
        )
        cursor.execute(sql, params)
        cursor.execute(
            "ALTER TABLE compliance_auditevent ENABLE TRIGGER compliance_auditevent_no_update_delete"
        )


PARALLEL = [pytest.param(0, id="second process"), pytest.param(10**9, id="this process")]


@pytest.mark.django_db
@pytest.mark.parametrize("parallel_after", PARALLEL)
def test_an_intact_log_verifies(parallel_after):
    _write(8)
    sequence_all()
    report = audit_chain_verify(chunk_size=3, parallel_after=parallel_after)
    assert report.ok, report.reason


@pytest.mark.django_db
@pytest.mark.parametrize("parallel_after", PARALLEL)
def test_an_edited_detail_is_caught_and_located(parallel_after):
    events = _write(8)
    sequence_all()
    target = events[5]
    _tamper(
        'UPDATE compliance_auditevent SET details = \'{"i": 99, "note": "é"}\' WHERE seq = %s',
        [target.seq],
    )
    report = audit_chain_verify(chunk_size=3, parallel_after=parallel_after)
    assert not report.ok
    assert report.broken_seq == target.seq
    assert "details do not match their digest" in report.reason


@pytest.mark.django_db
@pytest.mark.parametrize("parallel_after", PARALLEL)
def test_a_redacted_row_given_its_details_back_is_caught(parallel_after):
    events = _write(7)
    target = events[2]
    audit_event_redact(seq=target.seq, actor=None, reason="tests: erasure")
    sequence_all()
    assert audit_chain_verify(chunk_size=3, parallel_after=parallel_after).ok
    _tamper(
        'UPDATE compliance_auditevent SET details = \'{"i": 2, "note": "é"}\' WHERE seq = %s',
        [target.seq],
    )
    report = audit_chain_verify(chunk_size=3, parallel_after=parallel_after)
    assert not report.ok
    assert report.broken_seq == target.seq
    assert "redacted row holds details" in report.reason
