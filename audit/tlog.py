"""The transparency log on PostgreSQL: the sequencer, the stored tree, checkpoints and proofs.

Writers insert leaves (audit.services); ``sequence_batch`` gives committed ones their index,
stores the new tree nodes and a signed checkpoint, all in one transaction under an advisory lock.
"""

from __future__ import annotations

import base64
import time
from functools import partial
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from audit import merkle, note
from audit.signing import log_origin, signing_key, verifier_key
from audit.witness import checkpoint_published

# pg_advisory_xact_lock key of the sequencer ("audit_sq").
SEQUENCER_LOCK = 0x61756469745F7371
TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
DEFAULT_BATCH = 5000


def b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


class TreeStore:
    """Hashes of the stored tree, read through one cursor: leaf hashes (level 0, from the events)
    and the stored nodes of 256^k leaves; partial subtrees are hashed from them on demand."""

    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor
        self.memo: dict[tuple[int, int], bytes] = {}

    def entries(self, level: int, start: int, end: int) -> list[bytes]:
        """Stored entries [start, end) of tile level ``level`` (0: leaf hashes)."""
        if level == 0:
            self.cursor.execute(
                "SELECT leaf_hash FROM compliance_auditevent"
                " WHERE leaf_index >= %s AND leaf_index < %s ORDER BY leaf_index",
                [start, end],
            )
        else:
            self.cursor.execute(
                "SELECT hash FROM audit_treenode WHERE level = %s AND index >= %s AND index < %s"
                " ORDER BY index",
                [level, start, end],
            )
        found = [bytes(r[0]) for r in self.cursor.fetchall()]
        if len(found) != end - start:
            raise LookupError(f"tree level {level} entries {start}..{end} are missing")
        return found

    def perfect(self, height: int, index: int) -> bytes:
        """The hash of complete subtree ``index`` of 2^height leaves."""
        key = (height, index)
        if key not in self.memo:
            level, below = divmod(height, TILE_HEIGHT)
            count = 1 << below
            self.memo[key] = merkle.root(self.entries(level, index * count, (index + 1) * count))
        return self.memo[key]

    def range_hash(self, lo: int, hi: int) -> bytes:
        n = hi - lo
        if n == 0:
            return merkle.EMPTY_ROOT
        if n & (n - 1) == 0 and lo % n == 0:
            return self.perfect(n.bit_length() - 1, lo // n)
        k = merkle.split_point(n)
        return merkle.node_hash(self.range_hash(lo, lo + k), self.range_hash(lo + k, hi))


def _nodes_extend(store: TreeStore, old_size: int, new_size: int, new_leaves: list[bytes]) -> None:
    """Store every node of 256^k leaves that leaves [old_size, new_size) complete."""
    base = old_size - old_size % TILE_WIDTH
    below = store.entries(0, base, old_size) + new_leaves  # level-0 entries [base, new_size)
    level, lo, hi = 0, old_size, new_size
    while True:
        first, last = lo // TILE_WIDTH, hi // TILE_WIDTH  # nodes [first, last) are newly complete
        if last == first:
            return
        level += 1
        made = [
            merkle.root(below[i * TILE_WIDTH - base : (i + 1) * TILE_WIDTH - base])
            for i in range(first, last)
        ]
        store.cursor.execute(
            "INSERT INTO audit_treenode (level, index, hash)"
            " SELECT %s, i, h FROM unnest(%s::bigint[], %s::bytea[]) AS t(i, h)",
            [level, list(range(first, last)), made],
        )
        next_base = first - first % TILE_WIDTH
        below = store.entries(level, next_base, first) + made
        base, lo, hi = next_base, first, last


def _latest(cursor: Any) -> tuple[int, bytes, str] | None:
    cursor.execute(
        "SELECT tree_size, root_hash, note FROM audit_checkpoint ORDER BY tree_size DESC LIMIT 1"
    )
    row = cursor.fetchone()
    return (row[0], bytes(row[1]), row[2]) if row else None


def _checkpoint_write(cursor: Any, size: int, root_hash: bytes) -> str:
    signed = note.note_sign(note.checkpoint_body(log_origin(), size, root_hash), signing_key())
    cursor.execute(
        "INSERT INTO audit_checkpoint (tree_size, root_hash, note, created_at)"
        " VALUES (%s, %s, %s, now())",
        [size, root_hash, signed],
    )
    transaction.on_commit(partial(checkpoint_published, size, signed))  # to the outside store
    return signed


def _test_pause() -> None:
    """Test hook (settings.AUDIT_SEQUENCER_TEST_PAUSE_FILE, set by the test settings only): hold
    the batch, before its checkpoint and commit, while that file exists."""
    hold = getattr(settings, "AUDIT_SEQUENCER_TEST_PAUSE_FILE", "")
    if hold and Path(hold).exists():
        Path(hold + ".reached").touch()
        while Path(hold).exists():
            time.sleep(0.05)


def sequence_batch(limit: int = DEFAULT_BATCH) -> int:
    """Sequence up to ``limit`` committed leaves (oldest ``seq`` first); returns how many.

    One transaction under the sequencer's advisory lock (a second sequencer waits for it): the
    leaves get the next indices, the completed tree nodes and a signed checkpoint are stored. A kill
    at any point rolls all of it back. With no checkpoint yet, the empty tree's is written.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SEQUENCER_LOCK])
        latest = _latest(cursor)
        size = latest[0] if latest else 0
        cursor.execute(
            "SELECT seq, leaf_hash FROM compliance_auditevent WHERE leaf_index IS NULL"
            " ORDER BY seq LIMIT %s",
            [limit],
        )
        rows = cursor.fetchall()
        if not rows:
            if latest is None:
                _checkpoint_write(cursor, 0, merkle.EMPTY_ROOT)
            return 0
        seqs = [r[0] for r in rows]
        cursor.execute(
            "UPDATE compliance_auditevent e SET leaf_index = t.i"
            " FROM unnest(%s::bigint[], %s::bigint[]) AS t(s, i) WHERE e.seq = t.s",
            [seqs, list(range(size, size + len(seqs)))],
        )
        store = TreeStore(cursor)
        new_size = size + len(rows)
        _nodes_extend(store, size, new_size, [bytes(r[1]) for r in rows])
        _test_pause()
        _checkpoint_write(cursor, new_size, store.range_hash(0, new_size))
    return len(rows)


def sequence_all(limit: int = DEFAULT_BATCH) -> int:
    """Sequence until nothing is left (install, tests, the beat safety net)."""
    total = 0
    while done := sequence_batch(limit):
        total += done
    return total


def tree_size() -> int:
    with connection.cursor() as cursor:
        latest = _latest(cursor)
    return latest[0] if latest else 0


def checkpoint_latest() -> dict[str, Any] | None:
    """The latest checkpoint: ``tree_size``, ``root_hash`` (bytes) and the signed ``note``."""
    with connection.cursor() as cursor:
        latest = _latest(cursor)
    if latest is None:
        return None
    return {"tree_size": latest[0], "root_hash": latest[1], "note": latest[2]}


def proof_for_event(seq: int) -> dict[str, Any] | None:
    """The proof JSON of the spec for event ``seq``; None while it is not in a checkpoint."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT leaf_index, leaf_hash FROM compliance_auditevent WHERE seq = %s", [seq]
        )
        row = cursor.fetchone()
        latest = _latest(cursor)
        if row is None or row[0] is None or latest is None or row[0] >= latest[0]:
            return None
        index, leaf = row[0], bytes(row[1])
        size, root_hash, signed = latest
        proof = merkle.inclusion_proof(index, size, TreeStore(cursor).range_hash)
    return {
        "log_index": index,
        "tree_size": size,
        "leaf_hash": b64(leaf),
        "inclusion_proof": [b64(p) for p in proof],
        "root_hash": b64(root_hash),
        "checkpoint": signed,
        "key": verifier_key(),
    }


def consistency(m: int, n: int) -> dict[str, Any]:
    """The RFC 9162 consistency proof between trees of sizes m ≤ n (n at most the latest
    checkpoint's size); ValueError otherwise."""
    with transaction.atomic(), connection.cursor() as cursor:
        latest = _latest(cursor)
        top = latest[0] if latest else 0
        if not 0 <= m <= n <= top:
            raise ValueError(f"sizes must satisfy 0 <= from <= to <= {top} (the latest checkpoint)")
        store = TreeStore(cursor)
        proof = merkle.consistency_proof(m, n, store.range_hash)
        from_root, to_root = store.range_hash(0, m), store.range_hash(0, n)
    return {
        "from": m,
        "to": n,
        "from_root": b64(from_root),
        "to_root": b64(to_root),
        "proof": [b64(p) for p in proof],
    }


def checkpoint_ensure(**kwargs: Any) -> None:
    """post_migrate: sequence what is waiting (the migrated chain) and make sure a checkpoint
    exists, so the first one is written at install (size 0 for an empty log)."""
    sequence_all()  # its last, empty batch writes the size-0 checkpoint when there is none
