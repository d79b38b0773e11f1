"""Writes for compliance. The audit log's writes moved to ``audit.services``; every name is
re-exported here, since every app records through ``compliance.services.audit_record``."""

from __future__ import annotations

from typing import Any

from accounts.audit_actor import audit_actor_fields
from audit.leaves import details_digest_for
from audit.models import AuditEvent
from audit.services import (
    FORBIDDEN_DETAIL_KEYS,
    REDACTED,
    AuditDetailsError,
    AuditEntry,
    audit_anchor_write,
    audit_event_redact,
    audit_events_redact,
    audit_record,
    audit_record_many,
    leaf_object_for,
    subject_pseudonym,
)

__all__ = [
    "FORBIDDEN_DETAIL_KEYS",
    "GENESIS_HASH",
    "REDACTED",
    "AuditDetailsError",
    "AuditEntry",
    "audit_actor_fields",
    "audit_anchor_write",
    "audit_event_hashed_fields",
    "audit_event_redact",
    "audit_events_redact",
    "audit_record",
    "audit_record_many",
    "details_digest_for",
    "leaf_object_for",
    "subject_pseudonym",
]

# The old hash chain's first link (events before the transparency log keep their chain columns).
GENESIS_HASH = "0" * 64


def audit_event_hashed_fields(event: AuditEvent) -> dict[str, Any]:
    """An event's recorded fields (details only as their digest) and its old chain hash, JSON-ready
    (the audit exports' columns)."""
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
