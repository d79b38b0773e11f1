"""Writes for compliance. ``audit_record`` is called by every app, inside its own transaction."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

from compliance.models import AuditEvent

GENESIS_HASH = "0" * 64
# Serialises writers so that the chain never forks (pg_advisory_xact_lock key).
AUDIT_CHAIN_LOCK = 0x5A5D17
# Keys that would put biometric data, images or secrets into the log: refused outright.
FORBIDDEN_DETAIL_KEYS = {"embedding", "embeddings", "vector", "image", "selfie", "photo", "token", "password", "secret"}


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
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def details_digest_for(details: dict[str, Any]) -> str:
    canonical = json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
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
    details = details or {}
    _check_details(details)
    if "." not in action:
        raise ValueError("audit action codes are dotted: app.object.verb")
    actor_id, actor_label, actor_role, actor_org = _actor_fields(actor)
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
    ip = AuditEvent._meta.get_field("ip").to_python(ip) or None
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [AUDIT_CHAIN_LOCK])
            cursor.execute("SELECT nextval(pg_get_serial_sequence('compliance_auditevent', 'seq'))")
            (seq,) = cursor.fetchone()
        last = AuditEvent.objects.order_by("-seq").values_list("row_hash", flat=True).first()
        event = AuditEvent(
            seq=seq,
            created_at=timezone.now(),
            actor_id=actor_id,
            actor_label=actor_label,
            actor_role=actor_role,
            action=action,
            target_type=target_type,
            target_id=target_id,
            organisation_id=organisation_id if organisation_id is not None else actor_org,
            outcome=outcome,
            ip=ip,
            details=stored_details,
            details_digest=details_digest_for(stored_details),
            prev_hash=last or GENESIS_HASH,
        )
        event.row_hash = row_hash_for(event)
        event.save(force_insert=True)
    return event


REDACTED = {"redacted": True}


@transaction.atomic
def audit_events_redact(*, seqs: list[int], actor: Any, reason: str) -> int:
    """Blank the details of these events (erasure, retention); the chain stays verifiable.

    The rows keep their details digests and hashes. One audit row records the redaction.
    """
    if not seqs:
        return 0
    with connection.cursor() as cursor:
        for seq in seqs:
            cursor.execute("SELECT compliance_audit_redact(%s, %s)", [seq, json.dumps(REDACTED)])
    audit_record(
        actor=actor,
        action="compliance.audit_event.redacted",
        target="compliance.auditevent",
        outcome="success",
        details={"count": len(seqs), "first_seq": min(seqs), "last_seq": max(seqs), "reason": reason},
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
