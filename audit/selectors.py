"""Reads of the audit log: the event list, the anchors, and the full verification."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils.dateparse import parse_datetime

from audit import merkle, note
from audit.leaves import AT_SQL, LEAF_COLUMNS, details_fault, leaf_data_fast
from audit.models import AuditEvent
from audit.services import REDACTED, REDACTION_ACTION
from audit.signing import verifier_key

LEGACY_REDACTION_ACTION = "compliance.audit_event.redacted"


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
    """The verification's outcome. ``count``: leaves checked (sequenced and pending);
    ``tree_size``/``last_hash``: the verified tree and its root (hex); ``last_seq``: the event
    of its last leaf."""

    ok: bool
    count: int
    last_seq: int | None
    last_hash: str
    broken_seq: int | None = None
    reason: str = ""
    anchors_checked: int = 0
    tree_size: int = 0
    pending: int = 0
    checkpoints_checked: int = 0


# The leaf's columns in order (created_at as the leaf's text, formatted by the database), then the rest.
_VERIFY_SQL = (
    "SELECT "  # noqa: S608 (constants)
    + ", ".join(AT_SQL if c == "created_at" else c for c in LEAF_COLUMNS)
    + ", leaf_hash, leaf_index, redacted_at IS NOT NULL, details::text"
    " FROM compliance_auditevent ORDER BY leaf_index"  # NULLs (pending) last
)


class _Fault(Exception):
    def __init__(self, seq: int | None, reason: str) -> None:
        super().__init__(reason)
        self.seq, self.reason = seq, reason


def _fold(stack: list[tuple[int, bytes]]) -> bytes:
    if not stack:
        return merkle.EMPTY_ROOT
    top = stack[-1][1]
    for _, h in reversed(stack[:-1]):
        top = merkle.node_hash(h, top)
    return top


def audit_chain_verify(
    *, chunk_size: int = 5000, details: bool = True, parallel_after: int = 50_000
) -> ChainReport:
    """Check the whole log from its rows: every leaf hash recomputed from its row (and the details
    against their digest), leaf indices without gaps, the tree rebuilt bottom-up and its root at
    every stored checkpoint compared and the checkpoint's signature checked (consecutive
    checkpoints are then consistent: both roots come from one leaf sequence), the stored tree nodes,
    a redaction leaf for every redacted event, and the anchors kept outside the database.

    Past ``parallel_after`` rows the details are checked against their digests in a second process
    while this one rebuilds the tree (the two take about the same time per row; 2 cores halve it)."""
    vkey = verifier_key()
    pool: ProcessPoolExecutor | None = None
    details_checks: list[Future[tuple[int, str] | None]] = []
    redacted_text = json.dumps(REDACTED)
    sha256, node = hashlib.sha256, merkle.node_hash
    size = pending = count = checked = 0
    last_seq: int | None = None
    stack: list[tuple[int, bytes]] = []
    redacted: set[int] = set()
    redaction_leaves: set[str] = set()
    legacy_ranges: list[tuple[int, int]] = []
    snapshot = not connection.in_atomic_block  # one consistent view of rows and checkpoints
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                if snapshot:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                cursor.execute(
                    "SELECT tree_size, root_hash, note FROM audit_checkpoint ORDER BY tree_size"
                )
                checkpoints = [(r[0], bytes(r[1]), r[2]) for r in cursor.fetchall()]
                cursor.execute("SELECT level, index, hash FROM audit_treenode")
                nodes = {(r[0], r[1]): bytes(r[2]) for r in cursor.fetchall()}
            cp = 0

            def check_checkpoints() -> None:
                nonlocal cp, checked
                while cp < len(checkpoints) and checkpoints[cp][0] == size:
                    cp_size, cp_root, signed = checkpoints[cp]
                    try:
                        _, body_size, body_root = note.checkpoint_parse(
                            note.note_verify(signed, vkey)
                        )
                    except note.NoteError as exc:
                        raise _Fault(last_seq, f"checkpoint {cp_size}: {exc}") from exc
                    if body_size != cp_size or body_root != cp_root:
                        raise _Fault(last_seq, f"checkpoint {cp_size}: its note and row differ")
                    if _fold(stack) != cp_root:
                        raise _Fault(
                            last_seq, f"checkpoint {cp_size}: root differs from the leaves"
                        )
                    cp += 1
                    checked += 1

            check_checkpoints()
            with connection.chunked_cursor() as cursor:
                cursor.execute(_VERIFY_SQL)
                batch: list[tuple[int, str, str, bool]] = []
                while rows := cursor.fetchmany(chunk_size):
                    if details:
                        batch = [(r[0], r[15], r[11], r[14]) for r in rows]
                        if pool is None and count + len(rows) > parallel_after:
                            pool = ProcessPoolExecutor(1, multiprocessing.get_context("spawn"))
                        if pool is not None:
                            details_checks.append(pool.submit(details_fault, batch, redacted_text))
                            batch = []
                    for row in rows:
                        seq = row[0]
                        data = leaf_data_fast(*row[:12])
                        if row[12] is None or sha256(b"\x00" + data).digest() != row[12]:
                            raise _Fault(seq, "row content does not match its leaf hash")
                        if row[14]:
                            redacted.add(seq)
                        if row[5] == REDACTION_ACTION:
                            redaction_leaves.add(row[7])
                        elif row[5] == LEGACY_REDACTION_ACTION and not row[14]:
                            d = json.loads(row[15])
                            legacy_ranges.append((d.get("first_seq", 0), d.get("last_seq", -1)))
                        count += 1
                        index = row[13]
                        if index is None:
                            pending += 1
                            continue
                        last_seq = seq
                        if index != size:
                            raise _Fault(
                                seq, f"leaf index {index} where {size} was due (a leaf is missing)"
                            )
                        h, height = row[12], 0
                        size += 1
                        while stack and stack[-1][0] == height:
                            h = node(stack.pop()[1], h)
                            height += 1
                            if height % 8 == 0:
                                place = (height // 8, (size >> height) - 1)
                                if nodes.get(place) != h:
                                    raise _Fault(
                                        seq, f"stored tree node {place} is missing or differs"
                                    )
                        stack.append((height, h))
                        check_checkpoints()
                    if details and batch and (found := details_fault(batch, redacted_text)):
                        raise _Fault(*found)
            if cp < len(checkpoints):
                raise _Fault(
                    last_seq,
                    f"checkpoint {checkpoints[cp][0]} covers leaves that are missing (tree has {size})",
                )
        for check in details_checks:
            if found := check.result():
                raise _Fault(*found)
        missing = [
            s
            for s in sorted(redacted)
            if str(s) not in redaction_leaves and not any(a <= s <= b for a, b in legacy_ranges)
        ]
        if missing:
            raise _Fault(missing[0], f"event #{missing[0]} was redacted without a redaction leaf")
    except _Fault as fault:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        return ChainReport(
            False,
            count,
            last_seq,
            _fold(stack).hex(),
            fault.seq,
            fault.reason,
            tree_size=size,
            pending=pending,
            checkpoints_checked=checked,
        )
    if pool is not None:
        pool.shutdown()
    report = ChainReport(
        True,
        count,
        last_seq,
        _fold(stack).hex(),
        tree_size=size,
        pending=pending,
        checkpoints_checked=checked,
    )
    return _check_anchors(report, checkpoints)


audit_log_verify = audit_chain_verify


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
        anchor["file"] = path.name
        anchor["at_time"] = parse_datetime(str(anchor.get("at", "")))
        anchors.append(anchor)
    return anchors


def _check_anchors(report: ChainReport, checkpoints: list[tuple[int, bytes, str]]) -> ChainReport:
    """Each anchor holds a signed checkpoint: it must verify and match the stored one of its size
    (a rewrite or truncation after the anchor changes or drops it). Old chain anchors (last row's
    hash and count) are checked as before."""
    anchors = audit_anchor_list()
    by_size = {size: root for size, root, _ in checkpoints}
    vkey = verifier_key()
    for anchor in anchors:
        if anchor.get("unreadable"):
            return replace(report, ok=False, reason=f"anchor {anchor['file']} is unreadable")
        if anchor.get("checkpoint"):
            try:
                _, size, root = note.checkpoint_parse(note.note_verify(anchor["checkpoint"], vkey))
            except note.NoteError as exc:
                return replace(report, ok=False, reason=f"anchor {anchor['file']}: {exc}")
            if by_size.get(size) != root:
                return replace(
                    report,
                    ok=False,
                    reason=f"anchored checkpoint {size} of {anchor['at']} is missing or changed",
                )
            continue
        seq = anchor.get("last_seq")
        if seq is None:
            continue
        row = AuditEvent.objects.filter(seq=seq).values_list("row_hash", flat=True).first()
        if row != anchor.get("last_hash"):
            return replace(
                report,
                ok=False,
                broken_seq=seq,
                reason=f"anchored row #{seq} of {anchor['at']} is missing or changed",
            )
        if AuditEvent.objects.filter(seq__lte=seq).count() != anchor.get("count"):
            return replace(
                report,
                ok=False,
                broken_seq=seq,
                reason=f"rows up to anchored #{seq} of {anchor['at']} were removed",
            )
    return replace(report, anchors_checked=len(anchors))
