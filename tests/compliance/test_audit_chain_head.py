"""The audit chain's head (one row locked FOR UPDATE) and batch appends: no gap, no fork, same hashes."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from compliance import services
from compliance.models import AuditChainHead, AuditEvent
from compliance.selectors import audit_chain_verify
from config import devservices

BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def anchor_dir(settings, tmp_path):
    settings.AUDIT_ANCHOR_DIR = tmp_path / "anchors"
    return settings.AUDIT_ANCHOR_DIR


def _entries(prefix: str = "tests.batch") -> list[services.AuditEntry]:
    """Values that could break a hash computed in two places: quotes, backslashes, non-ASCII, the
    text of the chain fields themselves, IPv6 in a form the database rewrites, nulls and nesting."""
    tricky: list[dict[str, Any]] = [
        {"note": 'quote " and backslash \\ and ","seq":1,"prev_hash":"x'},
        {
            "name": "Zoë Ångström 東京 😀",
            "n": 1.5,
            "flag": None,
            "nested": {"list": [1, "two", {"three": 3}]},
        },
        {},
    ]
    return [
        services.AuditEntry(
            actor=None,
            action=f"{prefix}.{i}",
            target='label "with" quotes' if i % 2 else None,
            outcome="success",
            ip="2001:0DB8:0000:0000:0000:0000:0000:0001" if i == 1 else "192.0.2.7",
            details=details,
            organisation_id=i or None,
        )
        for i, details in enumerate(tricky)
    ]


def _fixed_clock(monkeypatch) -> None:
    """Times the same on both runs, so the only thing that can differ is how the hash is made."""
    ticks = itertools.count()
    start = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    monkeypatch.setattr(
        services.timezone, "now", lambda: start + timedelta(microseconds=next(ticks) * 7)
    )


class _Undo(Exception):
    pass


@pytest.mark.django_db
def test_batch_append_hashes_exactly_as_one_by_one(monkeypatch):
    """Bad input: quotes, backslashes, non-ASCII, chain-field text in values and an uppercase IPv6 address;
    the batch (hashed in Python) and single appends (hashed in the database) must agree to the bit."""
    services.audit_record(actor=None, action="tests.before", target=None, outcome="success")
    _fixed_clock(monkeypatch)
    with pytest.raises(_Undo), transaction.atomic():
        batch = [
            (e.seq, e.prev_hash, e.row_hash) for e in services.audit_record_many(entries=_entries())
        ]
        raise _Undo
    _fixed_clock(monkeypatch)
    single = []
    for entry in _entries():
        event = services.audit_record(
            actor=entry.actor,
            action=entry.action,
            target=entry.target,
            outcome=entry.outcome,
            ip=entry.ip,
            details=entry.details,
            organisation_id=entry.organisation_id,
        )
        single.append((event.seq, event.prev_hash, event.row_hash))
    assert batch == single
    # And both are what verification recomputes from the stored rows.
    for event in AuditEvent.objects.filter(seq__in=[s for s, _, _ in single]):
        assert services.row_hash_for(event) == event.row_hash
    assert audit_chain_verify().ok


@pytest.mark.django_db
def test_batch_append_links_in_order_and_moves_the_head():
    first = services.audit_record(actor=None, action="tests.first", target=None, outcome="success")
    many = [
        services.AuditEntry(
            actor=None, action="tests.many", target=None, outcome="success", details={"i": i}
        )
        for i in range(2500)
    ]
    events = services.audit_record_many(entries=many)
    assert [e.seq for e in events] == list(
        range(first.seq + 1, first.seq + 2501)
    )  # three INSERT statements, no gap
    assert events[0].prev_hash == first.row_hash
    for before, after in itertools.pairwise(events):
        assert after.prev_hash == before.row_hash
    head = AuditChainHead.objects.get()
    assert (head.last_seq, head.last_hash) == (events[-1].seq, events[-1].row_hash)
    assert audit_chain_verify().ok


@pytest.mark.django_db
def test_one_bad_entry_refuses_the_whole_batch():
    """Bad input: a biometric key in the third entry; nothing of the batch is written, the head does not move."""
    before = services.audit_record(
        actor=None, action="tests.before", target=None, outcome="success"
    )
    entries = [
        services.AuditEntry(actor=None, action="tests.ok", target=None, outcome="success")
        for _ in range(2)
    ]
    entries.append(
        services.AuditEntry(
            actor=None,
            action="tests.bad",
            target=None,
            outcome="success",
            details={"embedding": [0.1]},
        )
    )
    with pytest.raises(services.AuditDetailsError):
        services.audit_record_many(entries=entries)
    assert not AuditEvent.objects.filter(action__in=["tests.ok", "tests.bad"]).exists()
    assert AuditChainHead.objects.get().last_seq == before.seq
    assert services.audit_record_many(entries=[]) == []


@pytest.mark.django_db(transaction=True)
def test_head_survives_a_rolled_back_transaction():
    """Bad input: a transaction that writes audit events and then fails. Its events and the head roll back
    together: the next event takes the very next number and links to the last committed one."""
    kept = services.audit_record(actor=None, action="tests.kept", target=None, outcome="success")
    with pytest.raises(_Undo), transaction.atomic():
        services.audit_record(actor=None, action="tests.lost", target=None, outcome="success")
        services.audit_record_many(
            entries=[
                services.AuditEntry(actor=None, action="tests.lost", target=None, outcome="success")
            ]
        )
        raise _Undo
    after = services.audit_record(actor=None, action="tests.after", target=None, outcome="success")
    assert not AuditEvent.objects.filter(action="tests.lost").exists()
    assert after.seq == kept.seq + 1
    assert after.prev_hash == kept.row_hash
    assert audit_chain_verify().ok


@pytest.mark.django_db(transaction=True)
def test_missing_head_row_is_rebuilt_from_the_last_event():
    """Bad input: the head row deleted (a TRUNCATE of that table, say); the next append rebuilds it from the
    last event instead of restarting at the genesis hash, so the chain stays whole."""
    events = [
        services.audit_record(actor=None, action=f"tests.e.{i}", target=None, outcome="success")
        for i in range(3)
    ]
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM compliance_auditchainhead")
    again = services.audit_record(actor=None, action="tests.again", target=None, outcome="success")
    assert (again.seq, again.prev_hash) == (events[-1].seq + 1, events[-1].row_hash)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM compliance_auditchainhead")
    batch = services.audit_record_many(
        entries=[services.AuditEntry(actor=None, action="tests.b", target=None, outcome="success")]
    )
    assert (batch[0].seq, batch[0].prev_hash) == (again.seq + 1, again.row_hash)
    assert audit_chain_verify().ok


WRITER = """
import django, os, sys
django.setup()
from compliance.services import AuditEntry, audit_record, audit_record_many
from django.db import transaction
for i in range(int(sys.argv[1])):
    with transaction.atomic():
        if i % 5 == 4:  # every fifth transaction appends a batch of three
            audit_record_many(entries=[AuditEntry(actor=None, action="tests.concurrent.batch", target="writer",
                                                  outcome="success", details={"writer": os.getpid(), "i": i, "k": k})
                                       for k in range(3)])
        else:
            audit_record(actor=None, action="tests.concurrent.one", target="writer", outcome="success",
                         details={"writer": os.getpid(), "i": i})
"""


@pytest.mark.django_db(transaction=True)
def test_four_writer_processes_make_one_chain_without_gaps_or_forks():
    """Four processes on their own connections, single and batch appends interleaved: one chain, numbers
    1..n without a gap, every hash used once as a previous hash; then a tampered row fails verification."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.test_settings",
        "DATABASE_URL": devservices.database_url(settings.DATABASES["default"]),
        "REDIS_URL": settings.REDIS_URL,
    }
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, "50"], cwd=BASE_DIR, env=env, stderr=subprocess.PIPE
        )
        for _ in range(4)
    ]
    for w in writers:
        _, err = w.communicate(timeout=180)
        assert w.returncode == 0, err.decode()
    assert AuditEvent.objects.filter(action__startswith="tests.concurrent.").count() == 4 * (
        40 + 10 * 3
    )
    report = audit_chain_verify()
    assert report.ok, report
    rows = list(AuditEvent.objects.order_by("seq").values_list("seq", "prev_hash", "row_hash"))
    seqs = [r[0] for r in rows]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    prevs = [r[1] for r in rows]
    assert len(prevs) == len(set(prevs))
    head = AuditChainHead.objects.get()
    assert (head.last_seq, head.last_hash) == (rows[-1][0], rows[-1][2])

    target = rows[len(rows) // 2][0]
    with connection.cursor() as cursor:
        cursor.execute(
            "ALTER TABLE compliance_auditevent DISABLE TRIGGER compliance_auditevent_no_update_delete"
        )
        cursor.execute(
            "UPDATE compliance_auditevent SET outcome = 'failure' WHERE seq = %s", [target]
        )
        cursor.execute(
            "ALTER TABLE compliance_auditevent ENABLE TRIGGER compliance_auditevent_no_update_delete"
        )
    report = audit_chain_verify()
    assert not report.ok
    assert report.broken_seq == target


@pytest.mark.django_db
def test_redacting_many_events_takes_as_many_statements_as_one_and_keeps_the_chain():
    events = [
        services.audit_record(
            actor=None, action="tests.r", target=None, outcome="success", details={"i": i}
        )
        for i in range(5)
    ]
    with CaptureQueriesContext(connection) as one:
        assert services.audit_events_redact(seqs=[events[0].seq], actor=None, reason="erasure") == 1
    with CaptureQueriesContext(connection) as three:
        assert (
            services.audit_events_redact(
                seqs=[e.seq for e in events[2:5]], actor=None, reason="erasure"
            )
            == 3
        )
    assert len(three) == len(one)
    redacted = dict(
        AuditEvent.objects.filter(seq__in=[e.seq for e in events]).values_list("seq", "details")
    )
    assert [redacted[e.seq] for e in events] == [
        services.REDACTED,
        {"i": 1},
        services.REDACTED,
        services.REDACTED,
        services.REDACTED,
    ]
    assert audit_chain_verify().ok
