"""The audit log (a transparency log): leaf hashes, append-only trigger, redaction, anchors,
concurrent writers."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from audit.leaves import leaf_from_row, leaf_hash_of
from audit.tlog import sequence_all
from compliance import services
from compliance.models import AuditEvent
from compliance.selectors import audit_chain_verify
from config import devservices

BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def anchor_dir(settings, tmp_path):
    settings.AUDIT_ANCHOR_DIR = tmp_path / "anchors"
    return settings.AUDIT_ANCHOR_DIR


def _write(n: int, prefix: str = "tests.event") -> list[AuditEvent]:
    return [
        services.audit_record(
            actor=None, action=f"{prefix}.{i}", target="thing", outcome="success", details={"i": i}
        )
        for i in range(n)
    ]


def _tamper(sql: str, params: list) -> None:
    """Change rows the way an attacker with table-owner rights would: trigger disabled."""
    with connection.cursor() as cursor:
        cursor.execute(
            "ALTER TABLE compliance_auditevent DISABLE TRIGGER compliance_auditevent_no_update_delete"
        )
        cursor.execute(sql, params)
        cursor.execute(
            "ALTER TABLE compliance_auditevent ENABLE TRIGGER compliance_auditevent_no_update_delete"
        )


@pytest.mark.django_db
def test_leaves_are_sequenced_in_order_and_verify():
    events = _write(5)
    assert audit_chain_verify().pending >= 5  # written, not yet in a checkpoint: still checked
    sequence_all()
    indices = [AuditEvent.objects.get(seq=e.seq).leaf_index for e in events]
    for before, after in itertools.pairwise(indices):
        assert after == before + 1
    report = audit_chain_verify()
    assert report.ok, report
    assert report.count == AuditEvent.objects.count() == report.tree_size
    assert report.last_seq == events[-1].seq


@pytest.mark.django_db
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE compliance_auditevent SET outcome = 'failure' WHERE seq = %s",
        "DELETE FROM compliance_auditevent WHERE seq = %s",
    ],
)
def test_direct_update_and_delete_are_refused(sql):
    event = _write(1)[0]
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [event.seq])
    assert AuditEvent.objects.get(seq=event.seq).outcome == "success"


@pytest.mark.django_db
def test_edit_with_trigger_disabled_is_caught_and_located():
    events = _write(6)
    sequence_all()
    target = events[3]
    _tamper(
        "UPDATE compliance_auditevent SET actor_label = 'someone else' WHERE seq = %s", [target.seq]
    )
    report = audit_chain_verify()
    assert not report.ok
    assert report.broken_seq == target.seq
    assert "does not match its leaf hash" in report.reason


@pytest.mark.django_db
def test_deleted_row_in_the_middle_is_located():
    events = _write(5)
    sequence_all()
    _tamper("DELETE FROM compliance_auditevent WHERE seq = %s", [events[2].seq])
    report = audit_chain_verify()
    assert not report.ok
    assert report.broken_seq == events[3].seq
    assert "a leaf is missing" in report.reason


@pytest.mark.django_db
def test_tail_deletion_is_caught_by_the_anchor():
    """Input: the last two leaves deleted, and then also every checkpoint covering them (so the
    database alone is self-consistent): the anchor's signed checkpoint no longer matches."""
    events = _write(4)
    sequence_all()
    anchor = services.audit_anchor_write()
    assert anchor["tree_size"] == AuditEvent.objects.get(seq=events[-1].seq).leaf_index + 1
    assert audit_chain_verify().ok
    _tamper("DELETE FROM compliance_auditevent WHERE seq >= %s", [events[-2].seq])
    report = audit_chain_verify()
    assert not report.ok
    assert "covers leaves that are missing" in report.reason
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM audit_checkpoint WHERE tree_size > %s", [anchor["tree_size"] - 2]
        )
    report = audit_chain_verify()
    assert not report.ok
    assert "anchored checkpoint" in report.reason


@pytest.mark.django_db
def test_redaction_blanks_details_and_keeps_chain_valid():
    event = services.audit_record(
        actor=None,
        action="subjects.request.received",
        target="request",
        outcome="success",
        details={"email_pseudonym": services.subject_pseudonym("a@b.example")},
    )
    services.audit_event_redact(seq=event.seq, actor=None, reason="erasure")
    event.refresh_from_db()
    assert event.details == {"redacted": True}
    assert event.redacted_at is not None
    assert audit_chain_verify().ok
    # Redaction is the only change the trigger lets through, and only once.
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('compliance.audit_redaction', 'on', true)")
        cursor.execute("UPDATE compliance_auditevent SET outcome = 'x' WHERE seq = %s", [event.seq])


@pytest.mark.django_db
@pytest.mark.parametrize(
    "details",
    [
        {"embedding": [0.1, 0.2]},
        {"nested": {"selfie": "..."}},
        {"blob": b"\x89PNG"},
        {"list": [{"token": "abc"}]},
    ],
)
def test_biometric_and_secret_details_are_refused(details):
    with pytest.raises(services.AuditDetailsError):
        services.audit_record(
            actor=None, action="tests.bad", target=None, outcome="success", details=details
        )
    assert not AuditEvent.objects.filter(action="tests.bad").exists()


@pytest.mark.django_db
def test_subject_pseudonym_is_keyed_and_stable():
    a = services.subject_pseudonym("Person@Example.com")
    assert a == services.subject_pseudonym("person@example.com ")
    assert "person" not in a
    assert a != services.subject_pseudonym("other@example.com")


@pytest.mark.django_db
def test_audit_verify_command_exit_codes(capsys):
    events = _write(3)
    call_command("audit_verify")
    assert '"ok": true' in capsys.readouterr().out
    _tamper("UPDATE compliance_auditevent SET outcome = 'failure' WHERE seq = %s", [events[1].seq])
    with pytest.raises(SystemExit) as exc:
        call_command("audit_verify")
    assert exc.value.code == 1
    assert f"#{events[1].seq}" in capsys.readouterr().err


WRITER = """
import django, os, sys
django.setup()
from compliance.services import audit_record
from django.db import transaction
for i in range(int(sys.argv[1])):
    with transaction.atomic():
        audit_record(actor=None, action="tests.concurrent.write", target="writer", outcome="success",
                     details={"writer": os.getpid(), "i": i})
"""


@pytest.mark.django_db(transaction=True)
def test_chain_verifies_after_concurrent_writes_from_several_processes():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.test_settings",
        "DATABASE_URL": devservices.database_url(settings.DATABASES["default"]),
        "REDIS_URL": settings.REDIS_URL,
    }
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, "40"], cwd=BASE_DIR, env=env, stderr=subprocess.PIPE
        )
        for _ in range(4)
    ]
    for w in writers:
        _, err = w.communicate(timeout=120)
        assert w.returncode == 0, err.decode()
    assert AuditEvent.objects.filter(action="tests.concurrent.write").count() == 160
    sequence_all()
    report = audit_chain_verify()
    assert report.ok, report
    # One tree: every event has exactly one index, without gaps.
    indices = sorted(AuditEvent.objects.values_list("leaf_index", flat=True))
    assert indices == list(range(len(indices)))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "ip",
    ["2001:0db8:85a3:0000:0000:8a2e:0370:7334", "::ffff:192.0.2.1", "2001:DB8::1", "192.0.2.7"],
    ids=["ipv6-uncompressed", "ipv4-mapped", "ipv6-uppercase", "ipv4"],
)
def test_chain_verifies_whatever_form_the_client_address_takes(ip):
    """Bad input: IPv6 addresses the database stores in another form than given (used to break the chain)."""
    event = services.audit_record(
        actor=None, action="test.ip.recorded", target=None, outcome="success", ip=ip
    )
    event.refresh_from_db()
    row = (
        AuditEvent.objects.filter(seq=event.seq)
        .values_list(
            "seq",
            "created_at",
            "actor_id",
            "actor_label",
            "actor_role",
            "action",
            "target_type",
            "target_id",
            "organisation_id",
            "outcome",
            "ip",
            "details_digest",
        )
        .get()
    )
    assert leaf_hash_of(leaf_from_row(row)) == bytes(event.leaf_hash)
    assert audit_chain_verify().ok
