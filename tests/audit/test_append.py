"""The append path: one INSERT per event with its leaf hash, no head row; the sequencer, proofs."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json

import pytest
from django.db import IntegrityError, InternalError, ProgrammingError, connection, transaction

from audit import merkle, note, tlog
from audit.leaves import leaf_bytes
from audit.models import AuditEvent, Checkpoint, TreeNode
from audit.selectors import audit_chain_verify
from audit.services import (
    REDACTION_ACTION,
    AuditEntry,
    audit_events_redact,
    audit_record,
    audit_record_many,
    leaf_object_for,
)
from compliance import services as compliance_services

pytestmark = pytest.mark.django_db


def _independent_leaf_hash(event: AuditEvent) -> bytes:
    """The spec's leaf, built here field by field (not with the product's helpers)."""
    obj = {
        "v": 1,
        "seq": event.seq,
        "at": event.created_at.astimezone(__import__("datetime").UTC).strftime(
            "%Y-%m-%dT%H:%M:%S.%fZ"
        ),
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "actor_role": event.actor_role,
        "action": event.action,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "organisation_id": event.organisation_id,
        "outcome": event.outcome,
        "ip": event.ip,
        "details_digest": event.details_digest,
    }
    data = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return hashlib.sha256(b"\x00" + data).digest()


def test_one_event_is_inserted_with_the_spec_leaf_hash():
    """Input: an event with non-ASCII text and an IPv6 address; the database-side hash (one
    statement) equals the spec's leaf hash computed here."""
    event = audit_record(
        actor=None,
        action="tests.thing.done",
        target="tests.thing",
        outcome="success",
        ip="2001:0db8:0000:0000:0000:0000:0000:0001",
        details={"name": "Zoë ☃"},
    )
    stored = AuditEvent.objects.get(seq=event.seq)
    assert stored.leaf_index is None and stored.row_hash is None and stored.prev_hash is None
    assert bytes(stored.leaf_hash) == _independent_leaf_hash(stored) == event.leaf_hash
    assert stored.ip == "2001:db8::1"


def test_many_events_hash_as_one_by_one_and_keep_their_order():
    entries = [
        AuditEntry(None, "tests.thing.done", "x", "success", details={"i": i}) for i in range(5)
    ]
    events = audit_record_many(entries=entries)
    seqs = [e.seq for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == 5
    for e in AuditEvent.objects.filter(seq__in=seqs):
        assert bytes(e.leaf_hash) == _independent_leaf_hash(e)
        assert merkle.leaf_hash(leaf_bytes(leaf_object_for(e))) == bytes(e.leaf_hash)


def test_no_head_table_remains():
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('compliance_auditchainhead')")
        assert cursor.fetchone()[0] is None


def test_compliance_reexports_every_moved_name():
    for name in (
        "audit_record",
        "audit_record_many",
        "AuditEntry",
        "AuditDetailsError",
        "subject_pseudonym",
        "audit_events_redact",
        "audit_anchor_write",
    ):
        assert getattr(compliance_services, name) is not None
    from compliance.models import AuditEvent as Moved
    from compliance.selectors import audit_chain_verify as moved_verify

    assert Moved is AuditEvent and moved_verify is audit_chain_verify


def test_sequencer_numbers_leaves_and_signs_a_checkpoint_proofs_verify():
    """Input: 300 events (more than one 256-leaf tile); each proof verifies with merkle and the
    checkpoint's signature with the published key."""
    start = tlog.tree_size()
    events = audit_record_many(
        entries=[
            AuditEntry(None, "tests.thing.done", "x", "success", details={"i": i})
            for i in range(300)
        ]
    )
    assert tlog.proof_for_event(events[0].seq) is None  # not yet sequenced
    assert tlog.sequence_all(limit=128) == 300
    size = tlog.tree_size()
    assert size == start + 300
    latest = tlog.checkpoint_latest()
    body = note.note_verify(latest["note"], tlog.verifier_key())
    assert note.checkpoint_parse(body)[1:] == (size, latest["root_hash"])
    hashes = [
        bytes(h)
        for h in AuditEvent.objects.filter(leaf_index__isnull=False)
        .order_by("leaf_index")
        .values_list("leaf_hash", flat=True)
    ]
    assert merkle.root(hashes) == latest["root_hash"]
    for event in (events[0], events[150], events[-1]):
        proof = tlog.proof_for_event(event.seq)
        assert proof["tree_size"] == size and proof["key"] == tlog.verifier_key()
        assert merkle.verify_inclusion(
            proof["log_index"],
            size,
            base64.b64decode(proof["leaf_hash"]),
            [base64.b64decode(p) for p in proof["inclusion_proof"]],
            base64.b64decode(proof["root_hash"]),
        )
    assert TreeNode.objects.filter(level=1).count() == size // 256
    sizes = list(Checkpoint.objects.values_list("tree_size", flat=True))
    for m, n in itertools.pairwise(sizes):
        c = tlog.consistency(m, n)
        assert merkle.verify_consistency(
            m,
            n,
            *(base64.b64decode(c[k]) for k in ("from_root", "to_root")),
            [base64.b64decode(p) for p in c["proof"]],
        )
    with pytest.raises(ValueError, match="latest checkpoint"):
        tlog.consistency(1, size + 1)
    assert audit_chain_verify().ok


def test_trigger_lets_the_sequencer_set_the_index_once_and_nothing_else():
    event = audit_record(actor=None, action="tests.thing.done", target="x", outcome="success")
    tlog.sequence_all()
    for sql in (
        "UPDATE compliance_auditevent SET leaf_index = leaf_index + 1000000 WHERE seq = %s",
        "UPDATE compliance_auditevent SET outcome = 'failure' WHERE seq = %s",
        "DELETE FROM compliance_auditevent WHERE seq = %s",
    ):
        with (
            pytest.raises((InternalError, ProgrammingError)),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [event.seq])
    other = audit_record(actor=None, action="tests.thing.done", target="x", outcome="success")
    with (  # setting the index AND changing a field: refused
        pytest.raises((InternalError, ProgrammingError)),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "UPDATE compliance_auditevent SET leaf_index = 999999, outcome = 'x' WHERE seq = %s",
            [other.seq],
        )


def test_a_checkpoint_size_cannot_be_stored_twice():
    tlog.sequence_all()
    latest = Checkpoint.objects.latest()
    with pytest.raises(IntegrityError), transaction.atomic():
        Checkpoint.objects.create(tree_size=latest.tree_size, root_hash=bytes(32), note="x")


def test_redaction_appends_its_own_leaf_and_verification_wants_it():
    event = audit_record(
        actor=None,
        action="tests.thing.done",
        target="x",
        outcome="success",
        details={"email": "a@b.example"},
    )
    audit_events_redact(seqs=[event.seq], actor=None, reason="erasure")
    leaf = AuditEvent.objects.get(action=REDACTION_ACTION, target_id=str(event.seq))
    assert leaf.target_type == "audit.auditevent"
    assert leaf.details == {
        "seq": event.seq,
        "reason_digest": hashlib.sha256(b"erasure").hexdigest(),
    }
    tlog.sequence_all()
    assert audit_chain_verify().ok
    # The database function alone (no redaction leaf): verification names the event.
    other = audit_record(
        actor=None, action="tests.thing.done", target="x", outcome="success", details={"k": 1}
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT compliance_audit_redact(%s, '{\"redacted\": true}'::jsonb)", [other.seq]
        )
    report = audit_chain_verify()
    assert not report.ok and report.broken_seq == other.seq
    assert "without a redaction leaf" in report.reason


def test_forged_or_forked_checkpoints_are_caught():
    """Input: a checkpoint note edited in the table; then a checkpoint replaced by another tree of
    the same size, correctly signed with the log's own key (an insider's fork)."""
    from audit.signing import log_origin, signing_key

    audit_record(actor=None, action="tests.thing.done", target="x", outcome="success")
    tlog.sequence_all()
    latest = Checkpoint.objects.latest()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE audit_checkpoint SET note = replace(note, %s, %s) WHERE id = %s",
            [f"\n{latest.tree_size}\n", f"\n{latest.tree_size + 1}\n", latest.pk],
        )
    report = audit_chain_verify()
    assert not report.ok and "does not verify" in report.reason
    forged_root = hashlib.sha256(b"another history").digest()
    signed = note.note_sign(
        note.checkpoint_body(log_origin(), latest.tree_size, forged_root), signing_key()
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE audit_checkpoint SET note = %s, root_hash = %s WHERE id = %s",
            [signed, forged_root, latest.pk],
        )
    report = audit_chain_verify()
    assert not report.ok and "root differs from the leaves" in report.reason
