"""An independent RFC 9162 (Certificate Transparency 2.0) Merkle tree, written from the RFC text.

Nothing here imports the product: the tests check the product's proofs against this, so a bug shared
by the product's tree and its own verifier cannot pass unnoticed. Section numbers are RFC 9162's.
Hashes are bytes; ``leaves`` are leaf hashes (already ``HASH(0x00 || entry)``).
"""

from __future__ import annotations

import base64
import hashlib


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def leaf(entry: bytes) -> bytes:
    """§2.1.1: MTH({d(0)}) = HASH(0x00 || d(0))."""
    return sha256(b"\x00" + entry)


def interior(left: bytes, right: bytes) -> bytes:
    """§2.1.1: HASH(0x01 || MTH(D[0:k]) || MTH(D[k:n]))."""
    return sha256(b"\x01" + left + right)


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves: list[bytes]) -> bytes:
    """§2.1.1: the Merkle Tree Hash of a list of leaf hashes; the empty tree is HASH()."""
    n = len(leaves)
    if n == 0:
        return sha256(b"")
    if n == 1:
        return leaves[0]
    k = _split(n)
    return interior(mth(leaves[:k]), mth(leaves[k:]))


def path(m: int, leaves: list[bytes]) -> list[bytes]:
    """§2.1.3.1: PATH(m, D[n]), the inclusion proof of leaf m."""
    n = len(leaves)
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return [*path(m, leaves[:k]), mth(leaves[k:])]
    return [*path(m - k, leaves[k:]), mth(leaves[:k])]


def _subproof(m: int, leaves: list[bytes], b: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if b else [mth(leaves)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, leaves[:k], b), mth(leaves[k:])]
    return [*_subproof(m - k, leaves[k:], False), mth(leaves[:k])]


def proof(m: int, leaves: list[bytes]) -> list[bytes]:
    """§2.1.4.1: PROOF(m, D[n]) = SUBPROOF(m, D[n], true), for 0 < m < n."""
    return _subproof(m, leaves, True)


def verify_inclusion(
    leaf_index: int, tree_size: int, leaf_hash: bytes, inclusion_path: list[bytes], root: bytes
) -> bool:
    """§2.1.3.2, step by step."""
    if leaf_index >= tree_size or leaf_index < 0:  # step 1
        return False
    fn, sn = leaf_index, tree_size - 1  # step 2
    r = leaf_hash  # step 3
    for p in inclusion_path:  # step 4
        if sn == 0:  # 4a
            return False
        if fn & 1 or fn == sn:  # 4b
            r = interior(p, r)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            r = interior(r, p)
        fn >>= 1  # 4c
        sn >>= 1
    return sn == 0 and r == root  # step 5


def verify_consistency(
    first: int, second: int, first_hash: bytes, second_hash: bytes, consistency_path: list[bytes]
) -> bool:
    """§2.1.4.2, step by step (first == second: an empty path and equal hashes)."""
    if first < 1 or first > second:
        return False
    if first == second:
        return not consistency_path and first_hash == second_hash
    if not consistency_path:  # step 1
        return False
    path_ = list(consistency_path)
    if first & (first - 1) == 0:  # step 2: first is a power of two
        path_.insert(0, first_hash)
    fn, sn = first - 1, second - 1  # step 3
    if fn & 1:  # step 4
        while fn & 1:
            fn >>= 1
            sn >>= 1
    fr = sr = path_[0]  # step 5
    for c in path_[1:]:  # step 6
        if sn == 0:  # 6a
            return False
        if fn & 1 or fn == sn:  # 6b
            fr = interior(c, fr)
            sr = interior(c, sr)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            sr = interior(sr, c)
        fn >>= 1  # 6c
        sn >>= 1
    return fr == first_hash and sr == second_hash and sn == 0  # step 7


# --- C2SP signed note and checkpoint, also from their text ------------------------------------------


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def note_split(note: str) -> tuple[str, list[tuple[str, bytes]]]:
    """A signed note: the text (ending in a newline), a blank line, then lines ``— name base64``."""
    body, sep, signatures = note.partition("\n\n")
    assert sep, "a signed note has a blank line between its text and its signatures"
    lines = []
    for line in signatures.split("\n"):
        if not line:
            continue
        assert line.startswith("\u2014 "), f"a signature line starts with an em dash: {line!r}"
        name, _, sig = line[2:].rpartition(" ")
        lines.append((name, unb64(sig)))
    return body + "\n", lines


def vkey_parse(vkey: str) -> tuple[str, bytes, bytes]:
    """``name+hex key id+base64(0x01 || public key)`` → (name, key id, 32-byte Ed25519 key)."""
    # The name holds no '+' (signed-note names may not); the base64 key may: split from the left.
    name, key_id, material = vkey.strip().split("+", 2)
    raw = unb64(material)
    assert raw[0] == 1 and len(raw) == 33, "an Ed25519 verifier key is 0x01 then 32 bytes"
    return name, bytes.fromhex(key_id), raw[1:]


def key_id(name: str, public_key: bytes) -> bytes:
    return sha256(name.encode() + b"\n" + b"\x01" + public_key)[:4]


def checkpoint_parse(body: str) -> tuple[str, int, bytes]:
    origin, size, root, *_rest = body.split("\n")
    return origin, int(size), unb64(root)
