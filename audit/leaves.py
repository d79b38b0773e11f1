"""The leaf format (one per audit event) and its hash. Pure: stdlib only.

Leaf data = canonical JSON (sorted keys, no spaces, UTF-8) of the event's fields with the details
only as their SHA-256 digest; leaf hash = SHA-256(0x00 || leaf data) (RFC 9162).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any

LEAF_VERSION = 1
# The columns a leaf covers, as audit.selectors streams them.
LEAF_COLUMNS = (
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


def _dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def at_text(moment: datetime) -> str:
    """ISO 8601 in UTC with microseconds and a ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def leaf_object(
    *,
    seq: int,
    created_at: datetime,
    actor_id: int | None,
    actor_label: str,
    actor_role: str,
    action: str,
    target_type: str,
    target_id: str,
    organisation_id: int | None,
    outcome: str,
    ip: Any,
    details_digest: str,
) -> dict[str, Any]:
    return {
        "v": LEAF_VERSION,
        "seq": seq,
        "at": at_text(created_at),
        "actor_id": actor_id,
        "actor_label": actor_label,
        "actor_role": actor_role,
        "action": action,
        "target_type": target_type,
        "target_id": target_id,
        "organisation_id": organisation_id,
        "outcome": outcome,
        "ip": None if ip is None else str(ip),
        "details_digest": details_digest,
    }


def leaf_bytes(obj: dict[str, Any]) -> bytes:
    return _dumps(obj).encode()


def leaf_hash_of(obj: dict[str, Any]) -> bytes:
    return hashlib.sha256(b"\x00" + leaf_bytes(obj)).digest()


def leaf_from_row(row: tuple) -> dict[str, Any]:
    """The leaf object of a row holding ``LEAF_COLUMNS`` in order."""
    return leaf_object(**dict(zip(LEAF_COLUMNS, row, strict=True)))


def leaf_template(obj: dict[str, Any]) -> tuple[str, str]:
    """The leaf data around its ``seq`` value: ``left + str(seq) + right`` (the database numbers the
    row and hashes it in the INSERT; ``seq`` sorts between ``outcome`` and ``target_id``)."""
    marker = -7_919_191  # a number no real seq has, replaced below
    text = _dumps({**obj, "seq": marker})
    left, sep, right = text.partition(f'"seq":{marker}')
    if not sep or str(marker) in right:
        raise ValueError("leaf template marker clash")
    return left + '"seq":', right


# The canonical JSON of ``leaf_object``, keys in sorted order, for the verifier's hot loop (the same
# bytes as ``leaf_bytes(leaf_object(...))``; tests/audit/test_leaves.py holds them equal).
_LEAF_FORMAT = (
    '{{"action":{},"actor_id":{},"actor_label":{},"actor_role":{},"at":"{}","details_digest":{},'
    '"ip":{},"organisation_id":{},"outcome":{},"seq":{},"target_id":{},"target_type":{},"v":1}}'
)


def leaf_data_fast(
    seq: int,
    at: str,
    actor_id: int | None,
    actor_label: str,
    actor_role: str,
    action: str,
    target_type: str,
    target_id: str,
    organisation_id: int | None,
    outcome: str,
    ip: Any,
    details_digest: str,
) -> bytes:
    """Leaf data from a row whose ``created_at`` is already ``at_text`` (the database formats it)."""
    enc = encode_basestring
    return _LEAF_FORMAT.format(
        enc(action),
        "null" if actor_id is None else int(actor_id),
        enc(actor_label),
        enc(actor_role),
        at,
        enc(details_digest),
        "null" if ip is None else enc(str(ip)),
        "null" if organisation_id is None else int(organisation_id),
        enc(outcome),
        int(seq),
        enc(target_id),
        enc(target_type),
    ).encode()


# The database's rendering of ``at_text`` (PostgreSQL to_char, in UTC).
AT_SQL = """to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""


_DETAILS_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
)


def details_digest_for(details: dict[str, Any]) -> str:
    """SHA-256 (hex) of the details' canonical JSON (sorted keys, no spaces, UTF-8)."""
    return hashlib.sha256(_DETAILS_ENCODER.encode(details).encode()).hexdigest()


def details_fault(
    rows: list[tuple[int, str, str, bool]], redacted_text: str
) -> tuple[int, str] | None:
    """The first of ``rows`` (seq, details as JSON text, details digest, redacted?) whose details
    do not match their digest, or a redacted row that still holds details, as (seq, reason); None
    when all match. Pure, so verification can run it in another process beside the tree."""
    redacted = json.loads(redacted_text)
    for seq, text, digest, is_redacted in rows:
        stored = json.loads(text)
        if not is_redacted:
            if details_digest_for(stored) != digest:
                return seq, "details do not match their digest"
        elif stored != redacted:
            return seq, "redacted row holds details"
    return None
