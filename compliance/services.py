"""Writes for compliance. ``audit_record`` is called by every app, inside its own transaction."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

from compliance.models import AuditEvent

GENESIS_HASH = "0" * 64
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


def audit_event_hashed_fields(event: AuditEvent) -> dict[str, Any]:
    """The fields a row's hash covers (details only as their digest), JSON-ready."""
    return {
        "seq": event.seq,
        "created_at": event.created_at.isoformat(),
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
        "prev_hash": event.prev_hash,
    }


def canonical_payload(event: AuditEvent) -> bytes:
    """The bytes a row's hash covers: every field but the hash itself, as canonical JSON."""
    payload = audit_event_hashed_fields(event)
    return json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode()


def details_digest_for(details: dict[str, Any]) -> str:
    canonical = json.dumps(
        details, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def row_hash_for(event: AuditEvent) -> str:
    return hashlib.sha256(canonical_payload(event)).hexdigest()


def _actor_fields(actor: Any) -> tuple[int | None, str, str, int | None]:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return None, "system" if actor is None else "anonymous", "", None
    from accounts.selectors import membership_for, user_staff_groups

    roles = sorted(user_staff_groups(user=actor))
    membership = membership_for(user=actor)
    if membership is not None:
        roles.append(membership.role)
    if actor.is_superuser:
        roles.append("admin")
    org_id = membership.organisation_id if membership is not None else None
    return actor.pk, actor.email, ",".join(roles), org_id


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
    """An unsaved, unnumbered event with its details checked and digested (no chain fields yet)."""
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
    # Hash the address as the database will return it (IPv6 compressed), or the chain breaks.
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


_HEAD_LOCK = "SELECT last_seq, last_hash FROM compliance_auditchainhead WHERE id = 1 FOR UPDATE"
# The head row is created by migration 0006; this puts it back (from the last event) after a TRUNCATE.
_HEAD_INIT = f"""
INSERT INTO compliance_auditchainhead (id, last_seq, last_hash)
SELECT 1,
       COALESCE((SELECT seq FROM compliance_auditevent ORDER BY seq DESC LIMIT 1), 0),
       COALESCE((SELECT row_hash FROM compliance_auditevent ORDER BY seq DESC LIMIT 1), '{GENESIS_HASH}')
ON CONFLICT (id) DO NOTHING
"""  # noqa: S608 (a constant)
_INSERT_COLUMNS = (
    "seq, created_at, actor_id, actor_label, actor_role, action, target_type, target_id, organisation_id, outcome, ip,"
    " details, details_digest, prev_hash, row_hash"
)
_ROW = "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::inet, %s::jsonb, %s, %s, %s)"
# Rows per INSERT statement (15 parameters a row, well under PostgreSQL's 65,535).
_INSERT_CHUNK = 1000


def _row_params(event: AuditEvent) -> list[Any]:
    return [
        event.seq,
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
        event.prev_hash,
        event.row_hash,
    ]


def _head_locked(cursor: Any) -> tuple[int, str]:
    cursor.execute(_HEAD_LOCK)
    head = cursor.fetchone()
    if head is None:
        cursor.execute(_HEAD_INIT)
        cursor.execute(_HEAD_LOCK)
        head = cursor.fetchone()
    return head[0], head[1]


def _hash_template(event: AuditEvent) -> tuple[str, str]:
    """The canonical payload (``canonical_payload``) around its two chain fields.

    The keys sort as ``… outcome, prev_hash, seq, target_id, target_type``, so the payload is
    ``left + prev_hash + '","seq":' + seq + right``: the database fills in the two it holds.
    """
    fields = audit_event_hashed_fields(event)
    before = {k: v for k, v in fields.items() if k < "prev_hash"}
    after = {k: v for k, v in fields.items() if k > "seq"}
    options: dict[str, Any] = {
        "sort_keys": True,
        "separators": (",", ":"),
        "ensure_ascii": False,
        "default": str,
    }
    return json.dumps(before, **options)[:-1] + ',"prev_hash":"', "," + json.dumps(
        after, **options
    )[1:]


# One event in one statement: lock the head, number and hash the row from it (SHA-256 over the
# same canonical JSON that ``row_hash_for`` hashes), insert it and move the head on.
_APPEND_ONE = f"""
WITH head AS (
    SELECT last_seq + 1 AS seq, last_hash AS prev FROM compliance_auditchainhead WHERE id = 1 FOR UPDATE
), hashed AS (
    SELECT seq, prev, encode(sha256(convert_to(%s || prev || '","seq":' || seq || %s, 'UTF8')), 'hex') AS hash FROM head
), appended AS (
    INSERT INTO compliance_auditevent ({_INSERT_COLUMNS})
    SELECT seq, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::inet, %s::jsonb, %s, prev, hash FROM hashed
    RETURNING seq, prev_hash, row_hash
)
UPDATE compliance_auditchainhead SET last_seq = appended.seq, last_hash = appended.row_hash
FROM appended WHERE compliance_auditchainhead.id = 1
RETURNING appended.seq, appended.prev_hash, appended.row_hash
"""  # noqa: S608 (constants)


def _append_one(cursor: Any, event: AuditEvent) -> bool:
    """One round trip; False when there is no head row yet (after a TRUNCATE)."""
    left, right = _hash_template(event)
    cursor.execute(_APPEND_ONE, [left, right, *_row_params(event)[1:13]])
    row = cursor.fetchone()
    if row is None:
        return False
    event.seq, event.prev_hash, event.row_hash = row
    return True


def _chain_append(events: list[AuditEvent]) -> None:
    """Number, link and hash ``events`` under the head lock, insert them and move the head on.

    The head row stays locked until the caller's transaction ends: the next writer waits, so the
    chain never forks, and a rollback takes the events and the head back together (no gap).
    One event takes one statement (hashed in the database); several are hashed here under the
    lock and inserted 1,000 rows a statement.
    """
    with connection.cursor() as cursor:
        if len(events) == 1 and _append_one(cursor, events[0]):
            pass
        else:
            seq, prev = _head_locked(cursor)
            for event in events:
                seq += 1
                event.seq, event.prev_hash = seq, prev
                event.row_hash = prev = row_hash_for(event)
            chunks = [events[i : i + _INSERT_CHUNK] for i in range(0, len(events), _INSERT_CHUNK)]
            for chunk in chunks:
                cursor.execute(
                    f"INSERT INTO compliance_auditevent ({_INSERT_COLUMNS}) VALUES {', '.join([_ROW] * len(chunk))}",  # noqa: S608 (constants)
                    [p for e in chunk for p in _row_params(e)],
                )
            cursor.execute(
                "UPDATE compliance_auditchainhead SET last_seq = %s, last_hash = %s WHERE id = 1",
                [seq, prev],
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
    """Append one event to the hash-chained audit log, in the caller's transaction.

    ``action`` is a dotted code (``subjects.erasure.completed``). ``target`` is a model
    instance (recorded as type and primary key, never its contents) or a label.
    """
    entry = AuditEntry(
        actor=actor,
        action=action,
        target=target,
        outcome=outcome,
        ip=ip,
        details=details,
        organisation_id=organisation_id,
    )
    return audit_record_many(entries=[entry])[0]


def audit_record_many(*, entries: Sequence[AuditEntry]) -> list[AuditEvent]:
    """Append several events in order, in the caller's transaction: one statement per 1,000 rows,
    plus one to lock the head and one to move it.

    Every entry is checked before anything is written: one bad entry refuses them all. The
    events hash exactly as the same entries appended one by one with ``audit_record`` would.
    """
    events = [_event_for(entry) for entry in entries]
    if not events:
        return []
    # Inside the caller's transaction no savepoint (two more round trips); outside, one of its own.
    with transaction.atomic(savepoint=False):
        _chain_append(events)
    return events


REDACTED = {"redacted": True}


@transaction.atomic
def audit_events_redact(*, seqs: list[int], actor: Any, reason: str) -> int:
    """Blank the details of these events (erasure, retention); the chain stays verifiable.

    The rows keep their details digests and hashes. One audit row records the redaction.
    """
    if not seqs:
        return 0
    with connection.cursor() as cursor:  # one statement for all of them
        cursor.execute(
            "SELECT compliance_audit_redact(s, %s::jsonb) FROM unnest(%s::bigint[]) AS s",
            [json.dumps(REDACTED), list(seqs)],
        )
    audit_record(
        actor=actor,
        action="compliance.audit_event.redacted",
        target="compliance.auditevent",
        outcome="success",
        details={
            "count": len(seqs),
            "first_seq": min(seqs),
            "last_seq": max(seqs),
            "reason": reason,
        },
    )
    return len(seqs)


def audit_event_redact(*, seq: int, actor: Any, reason: str) -> AuditEvent:
    audit_events_redact(seqs=[seq], actor=actor, reason=reason)
    return AuditEvent.objects.get(seq=seq)


def audit_anchor_write() -> dict[str, Any]:
    """Write today's anchor (count, last sequence number and hash) outside the database."""
    from pathlib import Path

    last = AuditEvent.objects.order_by("-seq").values("seq", "row_hash").first()
    anchor = {
        "at": timezone.now().isoformat(),
        "count": AuditEvent.objects.count(),
        "last_seq": last["seq"] if last else None,
        "last_hash": last["row_hash"] if last else GENESIS_HASH,
    }
    directory = Path(settings.AUDIT_ANCHOR_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"anchor-{timezone.now():%Y-%m-%d}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(anchor, indent=2))
    tmp.replace(path)
    return anchor
