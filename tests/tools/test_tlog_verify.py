"""tools/tlog_verify.py on bundles built by an independent builder, then tampered with.

Each test says the bundle it builds and the one change it makes; the tool must exit 1 and name the
first fault (file and index or size). No database: the tool needs none.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.tools import bundle_kit as kit

SIZES = [0, 1, 3, 4, 7, 8, 13, 20]


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def bundle(tmp_path: Path, key: Ed25519PrivateKey) -> Path:
    """20 leaves, checkpoints at sizes 0, 1, 3, 4, 7, 8, 13 and 20 (powers of two and not)."""
    kit.build(tmp_path, [kit.leaf_obj(i) for i in range(20)], SIZES, key)
    return tmp_path


def fault(result) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stderr.startswith("FAULT: "), result.stderr
    return result.stderr


def test_intact_bundle_verifies(bundle: Path, key: Ed25519PrivateKey) -> None:
    """Untouched bundle, with --key and a trusted checkpoint held from size 4: exit 0, summary."""
    held = bundle.parent / "held-4.note"
    held.write_text((bundle / "checkpoints" / "4.note").read_text())
    key_file = bundle.parent / "trusted.vkey"
    key_file.write_text((bundle / "key.vkey").read_text())
    result = kit.run_tool(bundle, "--key", key_file, "--trusted-checkpoint", held)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK: 20 events, 8 checkpoints (sizes 0..20), 7 consistency")
    assert "1 trusted checkpoints" in result.stdout


@pytest.mark.parametrize("count", [1, 2, 5, 64, 65])
def test_consistency_proofs_of_every_shape(tmp_path: Path, key, count: int) -> None:
    """Checkpoints at every size 1..count: every proof shape the RFC algorithm walks."""
    kit.build(tmp_path, [kit.leaf_obj(i) for i in range(count)], list(range(1, count + 1)), key)
    result = kit.run_tool(tmp_path)
    assert result.returncode == 0, result.stderr


def test_edited_event(bundle: Path) -> None:
    """One field of the event at leaf_index 9 changed: the checkpoint at 13 (first after) fails."""
    rows = kit.events(bundle)
    rows[9]["leaf"]["outcome"] = "failure"
    kit.write_events(bundle, rows)
    err = fault(kit.run_tool(bundle))
    assert "checkpoints/13.note: root at tree size 13 differs" in err
    assert "leaf_index 8..12" in err


def test_dropped_event(bundle: Path) -> None:
    """The event at leaf_index 5 removed from events.jsonl: line 6 holds index 6."""
    rows = kit.events(bundle)
    del rows[5]
    kit.write_events(bundle, rows)
    err = fault(kit.run_tool(bundle))
    assert "events.jsonl line 6: leaf_index 6 where 5 was expected" in err


def test_dropped_event_renumbered(bundle: Path) -> None:
    """Event 5 removed and the later ones renumbered: checkpoint 7 no longer matches the tree."""
    rows = kit.events(bundle)
    del rows[5]
    for i, row in enumerate(rows):
        row["leaf_index"] = i
    kit.write_events(bundle, rows)
    assert "checkpoints/7.note: root at tree size 7 differs" in fault(kit.run_tool(bundle))


def test_truncated_tail(bundle: Path) -> None:
    """The last 3 events cut off: checkpoint 20 covers more events than the bundle holds."""
    kit.write_events(bundle, kit.events(bundle)[:17])
    err = fault(kit.run_tool(bundle))
    assert "checkpoints/20.note: tree size 20 but the bundle holds only 17 events" in err


def test_forked_checkpoint(bundle: Path, key: Ed25519PrivateKey) -> None:
    """Checkpoint 8 replaced by one of size 8 with another root, validly signed with the key."""
    other = [kit.h_leaf(kit.canonical(kit.leaf_obj(100 + i))) for i in range(8)]
    (bundle / "checkpoints" / "8.note").write_text(kit.note(8, kit.mth(other), key))
    assert "checkpoints/8.note: root at tree size 8 differs" in fault(kit.run_tool(bundle))


def test_forked_trusted_checkpoint(bundle: Path, key: Ed25519PrivateKey) -> None:
    """The auditor holds a checkpoint of size 10 (not in the bundle) with another root."""
    other = [kit.h_leaf(kit.canonical(kit.leaf_obj(100 + i))) for i in range(10)]
    held = bundle.parent / "held.note"
    held.write_text(kit.note(10, kit.mth(other), key))
    err = fault(kit.run_tool(bundle, "--trusted-checkpoint", held))
    assert f"trusted {held}: root at tree size 10 differs" in err


def test_wrong_signature(bundle: Path) -> None:
    """One byte of the signature of checkpoint 13 flipped (key id kept)."""
    path = bundle / "checkpoints" / "13.note"
    body, sig_line = path.read_text().split("\n\n")
    prefix, sig = sig_line.rstrip("\n").rsplit(" ", 1)
    raw = bytearray(kit.base64.b64decode(sig))
    raw[10] ^= 1
    path.write_text(f"{body}\n\n{prefix} {kit.base64.b64encode(bytes(raw)).decode()}\n")
    err = fault(kit.run_tool(bundle))
    assert "checkpoints/13.note: signature by" in err and "does not verify" in err


def test_edited_checkpoint_body(bundle: Path) -> None:
    """The size line of checkpoint 3 changed to 2 with the signature kept: signature fails."""
    path = bundle / "checkpoints" / "3.note"
    path.write_text(path.read_text().replace("\n3\n", "\n2\n", 1))
    assert "checkpoints/3.note: signature by" in fault(kit.run_tool(bundle))


def test_checkpoint_from_another_key(bundle: Path) -> None:
    """Checkpoint 20 re-signed, correct root, by another Ed25519 key under the same name."""
    rows = [kit.h_leaf(kit.canonical(r["leaf"])) for r in kit.events(bundle)]
    (bundle / "checkpoints" / "20.note").write_text(
        kit.note(20, kit.mth(rows), Ed25519PrivateKey.generate())
    )
    err = fault(kit.run_tool(bundle))
    assert "checkpoints/20.note: not signed by the key" in err


def test_whole_bundle_from_another_key(bundle: Path, tmp_path_factory) -> None:
    """A consistent bundle made with another key, checked against the auditor's --key."""
    key_file = tmp_path_factory.mktemp("auditor") / "trusted.vkey"
    key_file.write_text((bundle / "key.vkey").read_text())
    forged = tmp_path_factory.mktemp("forged")
    kit.build(forged, [kit.leaf_obj(i) for i in range(20)], SIZES, Ed25519PrivateKey.generate())
    assert "key.vkey: not the key given with --key" in fault(
        kit.run_tool(forged, "--key", key_file)
    )


def test_bad_consistency_proof(bundle: Path) -> None:
    """The one hash of the proof 8->13 (MTH of leaves 8..12) replaced by another hash."""
    proofs = json.loads((bundle / "consistency.json").read_text())
    pair = next(p for p in proofs if (p["from"], p["to"]) == (8, 13))
    pair["proof"][0] = kit.base64.b64encode(kit.h_leaf(b"x")).decode()
    (bundle / "consistency.json").write_text(json.dumps(proofs))
    assert "consistency.json 8->13: the tree of size 13 does not extend" in fault(
        kit.run_tool(bundle)
    )


def test_missing_consistency_proof(bundle: Path) -> None:
    """The proof 4->7 removed."""
    proofs = [p for p in json.loads((bundle / "consistency.json").read_text()) if p["from"] != 4]
    (bundle / "consistency.json").write_text(json.dumps(proofs))
    assert "consistency.json 4->7: no consistency proof" in fault(kit.run_tool(bundle))


def test_misnamed_checkpoint_and_garbage(bundle: Path) -> None:
    """Checkpoint 7 saved as 6.note; then a line of events.jsonl that is not JSON."""
    (bundle / "checkpoints" / "7.note").rename(bundle / "checkpoints" / "6.note")
    assert "checkpoints/6.note: holds a checkpoint of size 7" in fault(kit.run_tool(bundle))
    (bundle / "checkpoints" / "6.note").rename(bundle / "checkpoints" / "7.note")
    with (bundle / "events.jsonl").open("a") as f:
        f.write("{not json\n")
    assert "events.jsonl line 21: not an event" in fault(kit.run_tool(bundle))


def test_key_given_and_bundle_without_key(bundle: Path, tmp_path_factory) -> None:
    """key.vkey removed from the bundle, the auditor's --key given: verifies; without --key the
    missing file is named."""
    key_file = tmp_path_factory.mktemp("auditor") / "log.vkey"
    (bundle / "key.vkey").rename(key_file)
    assert kit.run_tool(bundle, "--key", key_file).returncode == 0
    assert "key.vkey: cannot read" in fault(kit.run_tool(bundle))


def test_missing_bundle(tmp_path: Path) -> None:
    """A directory with nothing in it: a clear message, not a traceback."""
    assert "key.vkey: cannot read" in fault(kit.run_tool(tmp_path))
