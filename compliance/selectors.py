"""Reads for compliance: the audit log, its verification and its anchors."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils.dateparse import parse_datetime

from compliance.models import AuditEvent
from compliance.services import GENESIS_HASH, REDACTED, details_digest_for


@dataclass(frozen=True)
class AuditFilters:
    since: datetime | None = None
    until: datetime | None = None
    actor: str | None = None
    action: str | None = None
    organisation_id: int | None = None
    target: str | None = None


def audit_event_list(*, filters: AuditFilters | None = None) -> QuerySet[AuditEvent]:
    """Events matching ``filters``, oldest first (callers slice or reverse)."""
    f = filters or AuditFilters()
    events = AuditEvent.objects.order_by("seq")
    if f.since:
        events = events.filter(created_at__gte=f.since)
    if f.until:
        events = events.filter(created_at__lt=f.until)
    if f.actor:
        events = events.filter(actor_label__icontains=f.actor)
    if f.action:
        events = events.filter(action__startswith=f.action)
    if f.organisation_id is not None:
        events = events.filter(organisation_id=f.organisation_id)
    if f.target:
        target_type, _, target_id = f.target.partition(":")
        events = events.filter(target_type=target_type)
        if target_id:
            events = events.filter(target_id=target_id)
    return events


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    count: int
    last_seq: int | None
    last_hash: str
    broken_seq: int | None = None
    reason: str = ""
    anchors_checked: int = 0


# Only what the chain covers, in the order ``audit_event_hashed_fields`` names it, then the rest.
_VERIFY_SQL = (
    "SELECT seq, created_at, actor_id, actor_label, actor_role, action, target_type, target_id, organisation_id, outcome,"
    " ip, details_digest, prev_hash, row_hash, redacted_at, details FROM compliance_auditevent ORDER BY seq"
)
_HASHED = (
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
    "prev_hash",
)


def audit_chain_verify(*, chunk_size: int = 5000) -> ChainReport:
    """Recompute every row's hash in order and check each links to the one before.

    The rows stream through a server-side cursor, as tuples of the hashed fields (no model
    instances). Then check the anchors written outside the database: each anchored row must
    still exist with the same hash and the same number of rows up to it (catches deletion and
    truncation).
    """
    prev = GENESIS_HASH
    count = 0
    last_seq: int | None = None
    dumps, sha256 = json.dumps, hashlib.sha256
    with transaction.atomic(), connection.chunked_cursor() as cursor:
        cursor.execute(_VERIFY_SQL)
        while rows := cursor.fetchmany(chunk_size):
            for row in rows:
                seq = row[0]
                if row[12] != prev:
                    reason = "previous-hash link broken (a row before it was removed or changed)"
                    return ChainReport(False, count, last_seq, prev, seq, reason)
                payload = dict(zip(_HASHED, row[:13], strict=True))
                payload["created_at"] = row[1].isoformat()
                canonical = dumps(
                    payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
                )
                if sha256(canonical.encode()).hexdigest() != row[13]:
                    return ChainReport(
                        False, count, last_seq, prev, seq, "row content does not match its hash"
                    )
                details = row[15] if isinstance(row[15], str) else dumps(row[15])
                if row[14] is None:
                    if details_digest_for(json.loads(details)) != row[11]:
                        return ChainReport(
                            False, count, last_seq, prev, seq, "details do not match their digest"
                        )
                elif json.loads(details) != REDACTED:
                    return ChainReport(
                        False, count, last_seq, prev, seq, "redacted row holds details"
                    )
                prev = row[13]
                count += 1
                last_seq = seq
    return _check_anchors(ChainReport(True, count, last_seq, prev))


def audit_anchor_list() -> list[dict[str, Any]]:
    directory = Path(settings.AUDIT_ANCHOR_DIR)
    if not directory.exists():
        return []
    anchors = []
    for path in sorted(directory.glob("anchor-*.json")):
        try:
            anchor = json.loads(path.read_text())
        except (OSError, ValueError):
            anchors.append({"file": path.name, "unreadable": True})
            continue
        # The file keeps ISO text; the page shows a date.
        anchor["at_time"] = parse_datetime(str(anchor.get("at", "")))
        anchors.append(anchor)
    return anchors


def _check_anchors(report: ChainReport) -> ChainReport:
    anchors = audit_anchor_list()
    for anchor in anchors:
        if anchor.get("unreadable"):
            return replace(report, ok=False, reason=f"anchor {anchor['file']} is unreadable")
        seq = anchor.get("last_seq")
        if seq is None:
            continue
        row = AuditEvent.objects.filter(seq=seq).values_list("row_hash", flat=True).first()
        if row != anchor["last_hash"]:
            return replace(
                report,
                ok=False,
                broken_seq=seq,
                reason=f"anchored row #{seq} of {anchor['at']} is missing or changed",
            )
        if AuditEvent.objects.filter(seq__lte=seq).count() != anchor["count"]:
            return replace(
                report,
                ok=False,
                broken_seq=seq,
                reason=f"rows up to anchored #{seq} of {anchor['at']} were removed",
            )
    return replace(report, anchors_checked=len(anchors))
