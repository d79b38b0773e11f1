#!/usr/bin/env python3
"""Verify an audit-log bundle offline: python tools/tlog_verify.py BUNDLE_DIR [--key VKEY_FILE]
[--trusted-checkpoint NOTE_FILE ...]. Needs only the standard library and `cryptography`.

Checks every leaf hash and the RFC 9162 tree, every checkpoint (C2SP signed note) against the
verifier key, the root of each checkpoint against the tree at its size, the consistency proofs
between consecutive checkpoints, and any checkpoint the auditor held earlier. Exits 0 with a
summary, or 1 naming the first fault (file, leaf index or tree size).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import itertools
import json
import sys
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

EMPTY_ROOT = hashlib.sha256(b"").digest()


class Fault(Exception):
    """The first thing wrong with the bundle, as one line for the auditor."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def canonical(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def b64(text: str, where: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise Fault(f"{where}: not base64: {text!r}") from exc


def key_parse(line: str, where: str) -> tuple[str, bytes, Ed25519PublicKey]:
    """A vkey `<name>+<key id hex>+<base64(0x01 || public key)>` -> (name, key id, key)."""
    parts = line.strip().split("+", 2)  # names hold no "+"; base64 may
    if len(parts) != 3:
        raise Fault(f"{where}: not a verifier key: {line.strip()!r}")
    name, id_hex, raw = parts[0], parts[1], b64(parts[2], where)
    if not name or len(id_hex) != 8 or len(raw) != 33 or raw[0] != 1:
        raise Fault(f"{where}: not an Ed25519 verifier key: {line.strip()!r}")
    key_id = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
    if key_id.hex() != id_hex.lower():
        raise Fault(f"{where}: key id {id_hex} does not match the key (expected {key_id.hex()})")
    return name, key_id, Ed25519PublicKey.from_public_bytes(raw[1:])


def note_check(
    text: str, key: tuple[str, bytes, Ed25519PublicKey], where: str
) -> tuple[int, bytes]:
    """Verify a signed checkpoint note with the key; return (tree size, root)."""
    name, key_id, public = key
    body, sep, sigs = text.partition("\n\n")
    if not sep or not sigs.endswith("\n"):
        raise Fault(f"{where}: not a signed note (no blank line before the signatures)")
    body += "\n"
    found = False
    for line in sigs[:-1].split("\n"):
        if not line.startswith("\u2014 "):
            raise Fault(f"{where}: malformed signature line {line!r}")
        sig_name, _, sig_b64 = line[2:].rpartition(" ")
        raw = b64(sig_b64, where)
        if sig_name != name or raw[:4] != key_id:
            continue
        found = True
        try:
            public.verify(raw[4:], body.encode())
        except InvalidSignature:
            raise Fault(f"{where}: signature by {name} does not verify (wrong signature)") from None
    if not found:
        raise Fault(f"{where}: not signed by the key {name}+{key_id.hex()} (another key?)")
    lines = body.split("\n")
    if len(lines) < 4 or not lines[1].isdigit():
        raise Fault(f"{where}: checkpoint body is not origin, size, root")
    if lines[0] != name:
        raise Fault(f"{where}: origin {lines[0]!r} is not the key's name {name!r}")
    root = b64(lines[2], where)
    if len(root) != 32:
        raise Fault(f"{where}: root hash is {len(root)} bytes, not 32")
    return int(lines[1]), root


def consistency_ok(m: int, n: int, root_m: bytes, root_n: bytes, proof: list[bytes]) -> bool:
    """RFC 9162 section 2.1.4.2."""
    if m == 0:
        return not proof and root_m == EMPTY_ROOT
    if m > n:
        return False
    if m == n:
        return not proof and root_m == root_n
    if m & (m - 1) == 0:
        proof = [root_m, *proof]
    if not proof:
        return False
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == root_m and sr == root_n and sn == 0


class Tree:
    """Leaves added one at a time; the root of every prefix on demand (a compact range)."""

    def __init__(self) -> None:
        self.size = 0
        self.stack: list[tuple[int, bytes]] = []  # (height, hash) of perfect subtrees

    def add(self, h: bytes) -> None:
        height = 0
        while self.stack and self.stack[-1][0] == height:
            h = node_hash(self.stack.pop()[1], h)
            height += 1
        self.stack.append((height, h))
        self.size += 1

    def root(self) -> bytes:
        if not self.stack:
            return EMPTY_ROOT
        r = self.stack[-1][1]
        for _, h in reversed(self.stack[:-1]):
            r = node_hash(h, r)
        return r


def verify(bundle: Path, key_file: Path | None, trusted: list[Path]) -> str:
    def read(path: Path) -> str:
        try:
            return path.read_text(encoding="utf-8")
        except OSError as exc:
            raise Fault(f"{path.name}: cannot read ({exc.strerror})") from None

    if key_file is None:
        key = key_parse(read(bundle / "key.vkey"), "key.vkey")
    else:  # the auditor's own copy wins; the bundle's, if any, must be the same key
        key = key_parse(read(key_file), str(key_file))
        if (bundle / "key.vkey").exists():
            bundled = key_parse(read(bundle / "key.vkey"), "key.vkey")
            if bundled[:2] != key[:2]:
                raise Fault(f"key.vkey: not the key given with --key ({key[0]}+{key[1].hex()})")
    checkpoints: dict[int, tuple[bytes, str]] = {}
    for path in sorted(
        (bundle / "checkpoints").glob("*.note"), key=lambda p: (len(p.name), p.name)
    ):
        where = f"checkpoints/{path.name}"
        size, root = note_check(read(path), key, where)
        if path.stem != str(size):
            raise Fault(f"{where}: holds a checkpoint of size {size}, not {path.stem}")
        checkpoints[size] = (root, where)
    if not checkpoints:
        raise Fault("checkpoints/: no checkpoint in the bundle")
    held: dict[int, list[tuple[bytes, str]]] = {}
    for path in trusted:
        size, root = note_check(read(path), key, f"trusted {path}")
        held.setdefault(size, []).append((root, f"trusted {path}"))
    wanted = {s: [v] for s, v in checkpoints.items()}
    for size, items in held.items():
        wanted.setdefault(size, []).extend(items)

    tree, last_ok = Tree(), 0
    roots: dict[int, bytes] = {}

    def check_at(size: int) -> None:
        nonlocal last_ok
        roots[size] = tree.root()
        for root, where in wanted.get(size, []):
            if root != roots[size]:
                raise Fault(
                    f"{where}: root at tree size {size} differs from the events "
                    f"(an event with leaf_index {last_ok}..{size - 1} was changed, added or removed)"
                )
        last_ok = size

    check_at(0)
    try:
        lines = (bundle / "events.jsonl").open(encoding="utf-8")
    except OSError as exc:
        raise Fault(f"events.jsonl: cannot read ({exc.strerror})") from None
    with lines:
        for number, line in enumerate(lines, start=1):
            where = f"events.jsonl line {number}"
            try:
                row = json.loads(line)
                index, leaf = row["leaf_index"], row["leaf"]
            except (ValueError, KeyError, TypeError) as exc:
                raise Fault(f"{where}: not an event ({exc})") from None
            if index != tree.size:
                raise Fault(
                    f"{where}: leaf_index {index} where {tree.size} was expected "
                    f"(an event is missing, repeated or out of order)"
                )
            tree.add(leaf_hash(canonical(leaf)))
            if tree.size in wanted:
                check_at(tree.size)
    for size, items in sorted(wanted.items()):
        if size > tree.size:
            raise Fault(
                f"{items[0][1]}: tree size {size} but the bundle holds only {tree.size} events "
                f"(events were dropped or the log was truncated)"
            )

    sizes = sorted(checkpoints)
    try:
        proofs = json.loads(read(bundle / "consistency.json"))
        by_pair = {(p["from"], p["to"]): p for p in proofs}
    except (ValueError, KeyError, TypeError) as exc:
        raise Fault(f"consistency.json: not a list of proofs ({exc})") from None
    for m, n in itertools.pairwise(sizes):
        where = f"consistency.json {m}->{n}"
        p = by_pair.get((m, n))
        if p is None:
            raise Fault(f"{where}: no consistency proof between checkpoints {m} and {n}")
        hashes = [b64(h, where) for h in p.get("proof", [])]
        ends = (b64(p.get("from_root", ""), where), b64(p.get("to_root", ""), where))
        if ends != (roots[m], roots[n]):
            raise Fault(f"{where}: roots differ from the checkpoints of sizes {m} and {n}")
        if not consistency_ok(m, n, roots[m], roots[n], hashes):
            raise Fault(f"{where}: the tree of size {n} does not extend the tree of size {m}")
    return (
        f"OK: {tree.size} events, {len(sizes)} checkpoints (sizes {sizes[0]}..{sizes[-1]}), "
        f"{max(len(sizes) - 1, 0)} consistency proofs, {sum(map(len, held.values()))} trusted "
        f"checkpoints; key {key[0]}+{key[1].hex()}; root {base64.b64encode(roots[sizes[-1]]).decode()}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument(
        "--key", type=Path, help="the verifier key you trust (default: the bundle's)"
    )
    parser.add_argument("--trusted-checkpoint", type=Path, action="append", default=[])
    args = parser.parse_args(argv)
    try:
        print(verify(args.bundle, args.key, args.trusted_checkpoint))
    except Fault as fault:
        print(f"FAULT: {fault}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
