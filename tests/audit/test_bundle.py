"""audit_export --bundle from a real database, checked by tools/tlog_verify.py as a subprocess.

Events are appended through the services (audit_record, a redaction through audit_event_redact),
sequenced into three checkpoints, exported; the tool (no Django, no database) says OK. Then one
tamper per test on that real bundle, each caught with the message that names it.
"""

from __future__ import annotations

import itertools
import json
from io import StringIO
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from audit import tlog
from audit.models import AuditEvent
from audit.signing import verifier_key
from compliance.services import audit_event_redact, audit_record
from tests.tools import bundle_kit as kit


def _append(n: int, start: int) -> list[int]:
    seqs = []
    for i in range(start, start + n):
        audit_record(
            actor=None,
            action="tests.bundle.event",
            target=f"tests.thing:{i}",
            outcome="success",
            details={"n": i, "name": "Zoë"},
        )
        seqs.append(AuditEvent.objects.order_by("-seq").values_list("seq", flat=True)[0])
    return seqs


def _sequence_all() -> None:
    while tlog.sequence_batch(1000):
        pass


@pytest.fixture
def bundle(db, tmp_path: Path) -> Path:
    """6 + 5 events (one redacted, which adds its redaction leaf) + 4, sequenced after each group
    (three checkpoints beyond the install one), exported to a new directory."""
    with connection.cursor() as cur:  # an empty log: sizes count from zero
        cur.execute("TRUNCATE compliance_auditevent, audit_treenode, audit_checkpoint")
    _sequence_all()
    seqs = _append(6, 0)
    _sequence_all()
    _append(5, 6)
    audit_event_redact(seq=seqs[2], actor=None, reason="erasure of the subject")
    _sequence_all()
    _append(4, 11)
    _sequence_all()
    out = StringIO()
    call_command("audit_export", "--bundle", str(tmp_path / "bundle"), stdout=out)
    assert "Check it with: python tools/tlog_verify.py" in out.getvalue()
    return tmp_path / "bundle"


def fault(result) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    return result.stderr


def _sizes(bundle: Path) -> list[int]:
    return sorted(int(p.stem) for p in (bundle / "checkpoints").glob("*.note"))


def _signing_key() -> Ed25519PrivateKey:
    pem = Path(settings.AUDIT_LOG_SIGNING_KEY_FILE).read_bytes()
    key = load_pem_private_key(pem, password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return key


def test_real_bundle_verifies(bundle: Path) -> None:
    """The exported bundle: every leaf hash equals the one the writer stored, the tool says OK
    with the bundle's key and with the key served by the log, and the export is audited."""
    rows = kit.events(bundle)
    sizes = _sizes(bundle)
    assert len(rows) == sizes[-1] >= 16 and len(sizes) >= 3
    stored = dict(AuditEvent.objects.values_list("leaf_index", "leaf_hash"))
    for row in rows:
        digest = kit.h_leaf(kit.canonical(row["leaf"]))
        held = stored[row["leaf_index"]]
        assert digest in (bytes(held), bytes.fromhex(held) if isinstance(held, str) else b"")
    assert any(r["leaf"]["action"] == "audit.event.redacted" for r in rows)
    assert all("details" not in r["leaf"] for r in rows)
    key_file = bundle.parent / "served.vkey"
    key_file.write_text(verifier_key() + "\n")
    result = kit.run_tool(bundle, "--key", key_file)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"OK: {len(rows)} events, {len(sizes)} checkpoints")
    exported = AuditEvent.objects.filter(action="compliance.audit_log.exported").last()
    assert exported is not None and exported.details["format"] == "bundle"


def test_bundle_refuses_a_used_directory(bundle: Path) -> None:
    """Exporting again into the same (non-empty) directory: a clear error, nothing overwritten."""
    with pytest.raises(CommandError, match="is not empty"):
        call_command("audit_export", "--bundle", str(bundle), stdout=StringIO())


def test_earlier_checkpoint_held_by_auditor(bundle: Path, tmp_path: Path) -> None:
    """An auditor kept the first checkpoint; the later bundle still extends it."""
    held = tmp_path / "held.note"
    held.write_text((bundle / "checkpoints" / f"{_sizes(bundle)[1]}.note").read_text())
    result = kit.run_tool(bundle, "--trusted-checkpoint", held)
    assert result.returncode == 0, result.stderr


def test_edited_event(bundle: Path) -> None:
    """Leaf 7's outcome changed in events.jsonl: the first checkpoint after it fails."""
    rows = kit.events(bundle)
    rows[7]["leaf"]["outcome"] = "failure"
    kit.write_events(bundle, rows)
    after = min(s for s in _sizes(bundle) if s > 7)
    err = fault(kit.run_tool(bundle))
    assert f"checkpoints/{after}.note: root at tree size {after} differs" in err


def test_dropped_event(bundle: Path) -> None:
    """Leaf 4 removed from events.jsonl."""
    rows = kit.events(bundle)
    del rows[4]
    kit.write_events(bundle, rows)
    assert "events.jsonl line 5: leaf_index 5 where 4 was expected" in fault(kit.run_tool(bundle))


def test_forked_checkpoint(bundle: Path) -> None:
    """The middle checkpoint replaced by one of the same size with another root, validly signed
    with the log's real signing key."""
    size = _sizes(bundle)[-2]
    other = [kit.h_leaf(b"forged %d" % i) for i in range(size)]
    note = (bundle / "checkpoints" / f"{size}.note").read_text()
    origin = note.split("\n", 1)[0]
    forged = kit.note(size, kit.mth(other), _signing_key(), name=origin)
    (bundle / "checkpoints" / f"{size}.note").write_text(forged)
    err = fault(kit.run_tool(bundle))
    assert f"checkpoints/{size}.note: root at tree size {size} differs" in err


def test_wrong_signature(bundle: Path) -> None:
    """A byte of the latest checkpoint's signature flipped."""
    path = bundle / "checkpoints" / f"{_sizes(bundle)[-1]}.note"
    body, sig_line = path.read_text().split("\n\n")
    prefix, sig = sig_line.rstrip("\n").rsplit(" ", 1)
    raw = bytearray(kit.base64.b64decode(sig))
    raw[-1] ^= 0x80
    path.write_text(f"{body}\n\n{prefix} {kit.base64.b64encode(bytes(raw)).decode()}\n")
    err = fault(kit.run_tool(bundle))
    assert f"checkpoints/{path.name}: signature by" in err and "does not verify" in err


def test_checkpoint_from_another_key(bundle: Path) -> None:
    """The latest checkpoint re-signed, right root, by another key under the log's name."""
    size = _sizes(bundle)[-1]
    rows = [kit.h_leaf(kit.canonical(r["leaf"])) for r in kit.events(bundle)]
    origin = (bundle / "key.vkey").read_text().split("+", 1)[0]
    note = kit.note(size, kit.mth(rows[:size]), Ed25519PrivateKey.generate(), name=origin)
    (bundle / "checkpoints" / f"{size}.note").write_text(note)
    assert f"checkpoints/{size}.note: not signed by the key" in fault(kit.run_tool(bundle))


def test_consistency_file_matches_service(bundle: Path) -> None:
    """consistency.json holds the service's proofs between consecutive checkpoints."""
    proofs = json.loads((bundle / "consistency.json").read_text())
    sizes = _sizes(bundle)
    assert [(p["from"], p["to"]) for p in proofs] == list(itertools.pairwise(sizes))
