"""RFC 9162 Merkle trees: hashes, proofs and their verification. Pure functions, no Django.

Hashes are 32-byte SHA-256 values. ``get_hash(lo, hi)`` callbacks return the Merkle Tree Hash of the
leaves ``[lo, hi)`` (a complete or partial subtree); ``subtree_hasher`` makes one from a list of leaf
hashes, and the log's store answers it from stored tiles.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

HashFn = Callable[[int, int], bytes]
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """The Merkle Tree Hash of these leaves, bottom-up (an odd last node moves up unchanged)."""
    if not leaf_hashes:
        return EMPTY_ROOT
    level = list(leaf_hashes)
    sha = hashlib.sha256
    while len(level) > 1:
        paired = [
            sha(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def subtree_hasher(leaf_hashes: Sequence[bytes]) -> HashFn:
    """A ``get_hash(lo, hi)`` over an in-memory list of leaf hashes."""

    def get_hash(lo: int, hi: int) -> bytes:
        return root(leaf_hashes[lo:hi])

    return get_hash


def _path(index: int, lo: int, hi: int, get_hash: HashFn) -> list[bytes]:
    if hi - lo <= 1:
        return []
    k = split_point(hi - lo)
    if index - lo < k:
        return [*_path(index, lo, lo + k, get_hash), get_hash(lo + k, hi)]
    return [*_path(index, lo + k, hi, get_hash), get_hash(lo, lo + k)]


def inclusion_proof(index: int, size: int, get_hash: HashFn) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(index, D[0:size])."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of size {size}")
    return _path(index, 0, size, get_hash)


def _subproof(m: int, lo: int, hi: int, complete: bool, get_hash: HashFn) -> list[bytes]:
    n = hi - lo
    if m == n:
        return [] if complete else [get_hash(lo, hi)]
    k = split_point(n)
    if m <= k:
        return [*_subproof(m, lo, lo + k, complete, get_hash), get_hash(lo + k, hi)]
    return [*_subproof(m - k, lo + k, hi, False, get_hash), get_hash(lo, lo + k)]


def consistency_proof(m: int, n: int, get_hash: HashFn) -> list[bytes]:
    """RFC 9162 §2.1.4.1 PROOF(m, D[0:n]); empty when m is 0 or m == n."""
    if not 0 <= m <= n:
        raise ValueError(f"no consistency proof from size {m} to size {n}")
    if m == 0 or m == n:
        return []
    return _subproof(m, 0, n, True, get_hash)


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root_hash: bytes
) -> bool:
    """RFC 9162 §2.1.3.2."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root_hash


def verify_consistency(
    m: int, n: int, root_m: bytes, root_n: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2 (an empty tree is consistent with every tree)."""
    if not 0 <= m <= n:
        return False
    if m == 0:
        return not proof and root_m == EMPTY_ROOT
    if m == n:
        return not proof and root_m == root_n
    if not proof:
        return False
    path = list(proof)
    if m & (m - 1) == 0:  # m is a power of two: the old root is the first node
        path.insert(0, root_m)
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == root_m and sr == root_n and sn == 0
