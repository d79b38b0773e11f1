"""A small, independent bundle builder and the tampering helpers the bundle tests share.

Its RFC 9162 code is written from the RFC (recursive MTH and SUBPROOF), not taken from the product,
so a test that passes checks the verifier against a second implementation.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import subprocess
import sys
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

TOOL = Path(__file__).resolve().parents[2] / "tools" / "tlog_verify.py"
ORIGIN = "facesearch.example/transparency/log"


def canonical(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def h_leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def h_node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = split(len(leaves))
    return h_node(mth(leaves[:k]), mth(leaves[k:]))


def subproof(m: int, leaves: list[bytes], whole: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if whole else [mth(leaves)]
    k = split(n)
    if m <= k:
        return [*subproof(m, leaves[:k], whole), mth(leaves[k:])]
    return [*subproof(m - k, leaves[k:], False), mth(leaves[:k])]


def proof(m: int, leaves: list[bytes]) -> list[bytes]:
    return [] if m in (0, len(leaves)) else subproof(m, leaves, True)


def vkey(name: str, key: Ed25519PrivateKey) -> tuple[str, bytes]:
    raw = b"\x01" + key.public_key().public_bytes_raw()
    key_id = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
    return f"{name}+{key_id.hex()}+{base64.b64encode(raw).decode()}", key_id


def note(size: int, root: bytes, key: Ed25519PrivateKey, name: str = ORIGIN) -> str:
    body = f"{name}\n{size}\n{base64.b64encode(root).decode()}\n"
    _, key_id = vkey(name, key)
    sig = base64.b64encode(key_id + key.sign(body.encode())).decode()
    return f"{body}\n\u2014 {name} {sig}\n"


def leaf_obj(i: int) -> dict:
    return {
        "v": 1,
        "seq": i + 1,
        "at": f"2026-12-08T03:00:{i % 60:02d}.000123Z",
        "actor_id": None,
        "actor_label": "system",
        "actor_role": "",
        "action": "subjects.erasure.completed",
        "target_type": "subjects.subjectrequest",
        "target_id": str(i),
        "organisation_id": None,
        "outcome": "success",
        "ip": None,
        "details_digest": hashlib.sha256(f"d{i}".encode()).hexdigest(),
    }


def build(directory: Path, leaves: list[dict], sizes: list[int], key: Ed25519PrivateKey) -> None:
    """Write a bundle in the spec's layout: events, checkpoints at `sizes`, key, proofs."""
    hashes = [h_leaf(canonical(o)) for o in leaves]
    (directory / "checkpoints").mkdir(parents=True, exist_ok=True)
    with (directory / "events.jsonl").open("w", encoding="utf-8") as out:
        for i, obj in enumerate(leaves):
            out.write(json.dumps({"leaf_index": i, "leaf": obj}, ensure_ascii=False) + "\n")
    for size in sizes:
        (directory / "checkpoints" / f"{size}.note").write_text(note(size, mth(hashes[:size]), key))
    (directory / "key.vkey").write_text(vkey(ORIGIN, key)[0] + "\n")
    b = lambda x: base64.b64encode(x).decode()  # noqa: E731
    proofs = [
        {
            "from": m,
            "to": n,
            "from_root": b(mth(hashes[:m])),
            "to_root": b(mth(hashes[:n])),
            "proof": [b(x) for x in proof(m, hashes[:n])],
        }
        for m, n in itertools.pairwise(sizes)
    ]
    (directory / "consistency.json").write_text(json.dumps(proofs, indent=1))


# Runs the tool in an isolated interpreter where importing Django or the project fails.
_NO_DJANGO = (
    "import runpy, sys; "
    "sys.modules.update(dict.fromkeys(['django', 'config', 'audit', 'compliance'])); "
    "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
)


def run_tool(*args: object) -> subprocess.CompletedProcess[str]:
    """The verifier as an auditor runs it: a separate Python that cannot import Django."""
    return subprocess.run(
        [sys.executable, "-I", "-c", _NO_DJANGO, str(TOOL), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def events(directory: Path) -> list[dict]:
    return [json.loads(x) for x in (directory / "events.jsonl").read_text().splitlines()]


def write_events(directory: Path, rows: list[dict]) -> None:
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    (directory / "events.jsonl").write_text(text, encoding="utf-8")
