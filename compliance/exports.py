"""Streamed audit exports (CSV and JSON Lines): rows are read in chunks, never all at once."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

from compliance.models import AuditEvent
from compliance.selectors import AuditFilters, audit_event_list
from compliance.services import audit_event_hashed_fields
from config.csvsafe import csv_dict_writer

FIELDS = [
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
    "details",
    "details_digest",
    "redacted_at",
    "prev_hash",
    "row_hash",
    "leaf_index",
    "leaf_hash",
]
FORMATS = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


def _row(event: AuditEvent) -> dict[str, object]:
    row = audit_event_hashed_fields(event)
    row["details"] = event.details
    row["redacted_at"] = event.redacted_at.isoformat() if event.redacted_at else None
    row["row_hash"] = event.row_hash
    row["leaf_index"] = event.leaf_index
    row["leaf_hash"] = bytes(event.leaf_hash).hex() if event.leaf_hash else None
    return row


def audit_export_lines(*, filters: AuditFilters, fmt: str, chunk_size: int = 2000) -> Iterator[str]:
    """Yield the export line by line (CSV with a header row, or one JSON object per line)."""
    if fmt not in FORMATS:
        raise ValueError(f"Unknown export format {fmt!r}; use csv or jsonl.")
    events = audit_event_list(filters=filters).iterator(chunk_size=chunk_size)
    if fmt == "jsonl":
        for event in events:
            yield json.dumps(_row(event), ensure_ascii=False, separators=(",", ":")) + "\n"
        return
    buffer = io.StringIO()
    writer = csv_dict_writer(buffer, fieldnames=FIELDS)  # formula-safe cells (config/csvsafe.py)
    writer.writeheader()
    for event in events:
        row = _row(event)
        row["details"] = json.dumps(row["details"], ensure_ascii=False, sort_keys=True)
        writer.writerow(row)
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
