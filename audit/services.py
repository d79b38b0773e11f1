"""Writes to the audit log. ``audit_record`` is called by every app, inside its own transaction:
one INSERT of the event with its leaf hash, no shared row, no lock (the sequencer numbers leaves)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

from audit.leaves import details_digest_for, leaf_hash_of, leaf_object, leaf_template
from audit.models import AuditEvent

__all__ = [
    "REDACTED",
    "AuditDetailsError",
    "AuditEntry",
    "audit_anchor_write",
    "audit_event_redact",
    "audit_events_redact",
    "audit_record",
    "audit_record_many",
    "details_digest_for",
    "leaf_object_for",
    "subject_pseudonym",
]

# Keys that would put biometric data, images or secrets into the log: refused outright.
FORBIDDEN_DETAIL_KEYS = {
    "embedding",
    "embeddings",
    "vector",
    "image",
    "selfie",
    "photo",
    "token",
    "password",
    "secret",
}
REDACTION_ACTION = "audit.event.redacted"
REDACTED = {"redacted": True}


class AuditDetailsError(ValueError):
    pass


def subject_pseudonym(value: str) -> str:
    """Keyed pseudonym for a data subject (an email address, say) as it appears in the log."""
    key = settings.SECRET_KEY.encode()
    return "subj_" + hmac.new(key, value.strip().lower().encode(), hashlib.sha256).hexdigest()[:24]


def _check_details(details: Any, path: str = "details") -> None:
    if isinstance(details, dict):
        for key, value in details.items():
            if str(key).lower() in FORBIDDEN_DETAIL_KEYS:
                raise AuditDetailsError(f"{path}.{key} must not be written to the audit log")
            _check_details(value, f"{path}.{key}")
    elif isinstance(details, list | tuple):
        for i, value in enumerate(details):
            _check_details(value, f"{path}[{i}]")
    elif isinstance(details, bytes | bytearray | memoryview):
        raise AuditDetailsError(f"{path} holds binary data; the audit log takes none")


def _actor_fields_basic(actor: Any) -> tuple[int | None, str, str, int | None]:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return None, "system" if actor is None else "anonymous", "", None
    return actor.pk, getattr(actor, "email", "") or str(actor), "", None


ActorDescriber = Callable[[Any], tuple[int | None, str, str, int | None]]
_actor_describer: ActorDescriber | None = None


def audit_actor_describer_set(describe: ActorDescriber) -> None:
    """Called from accounts' ``ready()``: how an actor's id, label, roles and organisation are
    recorded (the project's roles live above this app, so they are handed down, not imported)."""
    global _actor_describer
    _actor_describer = describe


def _actor_fields(actor: Any) -> tuple[int | None, str, str, int | None]:
    """(id, label, roles, organisation id) of the actor, through the registered describer."""
    return (_actor_describer or _actor_fields_basic)(actor)


@dataclass(frozen=True)
class AuditEntry:
    """One event for ``audit_record_many``: the same fields ``audit_record`` takes."""

    actor: Any
    action: str
    target: models.Model | str | None
    outcome: str
    ip: str | None = None
    details: dict[str, Any] | None = None
    organisation_id: int | None = None


def _event_for(entry: AuditEntry) -> AuditEvent:
    """An unsaved, unnumbered event with its details checked and digested."""
    details = entry.details or {}
    _check_details(details)
    if "." not in entry.action:
        raise ValueError("audit action codes are dotted: app.object.verb")
    actor_id, actor_label, actor_role, actor_org = _actor_fields(entry.actor)
    organisation_id = entry.organisation_id
    target = entry.target
    if isinstance(target, models.Model):
        target_type, target_id = target._meta.label_lower, str(target.pk)
        if organisation_id is None:
            organisation_id = getattr(target, "organisation_id", None)
    elif target is None:
        target_type, target_id = "", ""
    else:
        target_type, target_id = str(target), ""
    stored_details = json.loads(json.dumps(details, default=str))
    # Hash the address as the database will return it (IPv6 compressed), or the leaf won't match.
    ip = AuditEvent._meta.get_field("ip").to_python(entry.ip) or None
    return AuditEvent(
        created_at=timezone.now(),
        actor_id=actor_id,
        actor_label=actor_label,
        actor_role=actor_role,
        action=entry.action,
        target_type=target_type,
        target_id=target_id,
        organisation_id=organisation_id if organisation_id is not None else actor_org,
        outcome=entry.outcome,
        ip=ip,
        details=stored_details,
        details_digest=details_digest_for(stored_details),
    )


def leaf_object_for(event: AuditEvent) -> dict[str, Any]:
    """The leaf data object of an event (the spec's fields; details as their digest)."""
    return leaf_object(
        seq=event.seq,
        created_at=event.created_at,
        actor_id=event.actor_id,
        actor_label=event.actor_label,
        actor_role=event.actor_role,
        action=event.action,
        target_type=event.target_type,
        target_id=event.target_id,
        organisation_id=event.organisation_id,
        outcome=event.outcome,
        ip=event.ip,
        details_digest=event.details_digest,
    )


_COLUMNS = (
    "seq, created_at, actor_id, actor_label, actor_role, action, target_type, target_id,"
    " organisation_id, outcome, ip, details, details_digest, leaf_hash"
)
_NEXT_SEQ = "nextval(pg_get_serial_sequence('compliance_auditevent', 'seq'))"
# One event, one statement: the database numbers the row and hashes its leaf data (the writer's
# canonical JSON with the number filled in), so a writer never waits on another.
_APPEND_ONE = (
    f"INSERT INTO compliance_auditevent ({_COLUMNS}) SELECT n.s, %s, %s, %s, %s, %s, %s, %s, %s,"  # noqa: S608
    " %s, %s::inet, %s::jsonb, %s, sha256('\\x00'::bytea || convert_to(%s || n.s::text || %s,"
    f" 'UTF8')) FROM (SELECT {_NEXT_SEQ} AS s) AS n RETURNING seq, leaf_hash"
)
_ROW = "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::inet, %s::jsonb, %s, %s)"
_INSERT_CHUNK = 1000  # rows per INSERT (14 parameters a row)


def _params(event: AuditEvent) -> list[Any]:
    return [
        event.created_at,
        event.actor_id,
        event.actor_label,
        event.actor_role,
        event.action,
        event.target_type,
        event.target_id,
        event.organisation_id,
        event.outcome,
        event.ip,
        json.dumps(event.details, ensure_ascii=False),
        event.details_digest,
    ]


def _append(events: list[AuditEvent]) -> None:
    with connection.cursor() as cursor:
        if len(events) == 1:
            event = events[0]
            left, right = leaf_template(leaf_object_for(event))
            cursor.execute(_APPEND_ONE, [*_params(event), left, right])
            event.seq, leaf = cursor.fetchone()
            event.leaf_hash = bytes(leaf)
        else:
            numbers = f"SELECT {_NEXT_SEQ} FROM generate_series(1, %s)"  # noqa: S608 (constants)
            cursor.execute(numbers, [len(events)])
            for event, (seq,) in zip(events, sorted(cursor.fetchall()), strict=True):
                event.seq = seq
                event.leaf_hash = leaf_hash_of(leaf_object_for(event))
            for i in range(0, len(events), _INSERT_CHUNK):
                chunk = events[i : i + _INSERT_CHUNK]
                cursor.execute(
                    f"INSERT INTO compliance_auditevent ({_COLUMNS}) VALUES "  # noqa: S608 (constants)
                    + ", ".join([_ROW] * len(chunk)),
                    [p for e in chunk for p in (e.seq, *_params(e), e.leaf_hash)],
                )
    for event in events:
        event._state.adding = False
        event._state.db = connection.alias


def audit_record(
    *,
    actor: Any,
    action: str,
    target: models.Model | str | None,
    outcome: str,
    ip: str | None = None,
    details: dict[str, Any] | None = None,
    organisation_id: int | None = None,
) -> AuditEvent:
    """Append one event to the transparency log, in the caller's transaction (one INSERT).

    ``action`` is a dotted code (``subjects.erasure.completed``). ``target`` is a model
    instance (recorded as type and primary key, never its contents) or a label.
    """
    entry = AuditEntry(actor, action, target, outcome, ip, details, organisation_id)
    return audit_record_many(entries=[entry])[0]


def audit_record_many(*, entries: Sequence[AuditEntry]) -> list[AuditEvent]:
    """Append several events in order, in the caller's transaction: one statement to number them,
    one per 1,000 rows. Every entry is checked first: one bad entry refuses them all."""
    events = [_event_for(entry) for entry in entries]
    if not events:
        return []
    with transaction.atomic(savepoint=False):
        _append(events)
    return events


@transaction.atomic
def audit_events_redact(*, seqs: list[int], actor: Any, reason: str) -> int:
    """Blank the details of these events (erasure, retention). Their leaves keep the details'
    digests, so the tree is unchanged; each redaction appends its own leaf
    (``audit.event.redacted``, target ``audit.auditevent:<seq>``)."""
    seqs = sorted(set(seqs))
    if not seqs:
        return 0
    with connection.cursor() as cursor:  # one statement for all of them
        cursor.execute(
            "SELECT s FROM unnest(%s::bigint[]) AS s"
            " WHERE EXISTS (SELECT 1 FROM compliance_auditevent WHERE seq = s AND redacted_at IS NULL)",
            [seqs],
        )
        todo = [r[0] for r in cursor.fetchall()]
        cursor.execute(
            "SELECT compliance_audit_redact(s, %s::jsonb) FROM unnest(%s::bigint[]) AS s",
            [json.dumps(REDACTED), todo],
        )
    reason_digest = hashlib.sha256(reason.encode()).hexdigest()
    leaves = []
    for seq in todo:
        entry = AuditEntry(
            actor=actor,
            action=REDACTION_ACTION,
            target="audit.auditevent",
            outcome="success",
            details={"seq": seq, "reason_digest": reason_digest},
        )
        event = _event_for(entry)
        event.target_id = str(seq)
        leaves.append(event)
    if leaves:
        _append(leaves)
    return len(seqs)


def audit_event_redact(*, seq: int, actor: Any, reason: str) -> AuditEvent:
    audit_events_redact(seqs=[seq], actor=actor, reason=reason)
    return AuditEvent.objects.get(seq=seq)


def audit_anchor_write() -> dict[str, Any]:
    """Write today's anchor outside the database: the latest signed checkpoint."""
    from audit.tlog import b64, checkpoint_latest

    latest = checkpoint_latest()
    anchor = {
        "at": timezone.now().isoformat(),
        "tree_size": latest["tree_size"] if latest else 0,
        "root": b64(latest["root_hash"]) if latest else None,
        "checkpoint": latest["note"] if latest else None,
    }
    directory = Path(settings.AUDIT_ANCHOR_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"anchor-{timezone.now():%Y-%m-%d}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(anchor, indent=2))
    tmp.replace(path)
    return anchor
