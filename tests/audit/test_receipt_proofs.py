"""A person's receipt carries proofs that its events are in the public log, and those proofs check out
with tools that are not ours: the RFC 9162 reference written in this test package from the RFC text
(tests/audit/rfc9162_reference.py, no product code) and ``cryptography`` for the signature.

A real erasure request: submitted through the form, confirmed from the emailed link, carried out
(no photos located, so the erasure's receipt counts zero), then the status page and the access
package page are read as the person reads them.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC
from html import unescape
from urllib.parse import unquote

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.core import mail
from django.urls import reverse

from audit.models import AuditEvent
from audit.tlog import sequence_all
from subjects import services
from subjects.models import ErasureReceipt
from tests.audit import rfc9162_reference as ref
from tests.subjects.requests_support import link, submit, verify

pytestmark = pytest.mark.django_db(transaction=True)  # emails go out on commit

PENDING = "check again in a minute"


def _leaf_data(row: AuditEvent) -> bytes:
    """The leaf of the spec, built here from the row (not by the product's code)."""
    at = row.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    leaf = {
        "v": 1,
        "seq": row.seq,
        "at": at,
        "actor_id": row.actor_id,
        "actor_label": row.actor_label,
        "actor_role": row.actor_role,
        "action": row.action,
        "target_type": row.target_type,
        "target_id": row.target_id,
        "organisation_id": row.organisation_id,
        "outcome": row.outcome,
        "ip": row.ip,
        "details_digest": row.details_digest,
    }
    return json.dumps(leaf, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def check_proof(proof: dict, row: AuditEvent) -> None:
    """Everything a person's tool would check, with the reference and cryptography only."""
    assert set(proof) == {
        "log_index",
        "tree_size",
        "leaf_hash",
        "inclusion_proof",
        "root_hash",
        "checkpoint",
        "key",
    }
    leaf_hash = ref.unb64(proof["leaf_hash"])
    assert leaf_hash == ref.leaf(_leaf_data(row)), "the leaf hash is SHA-256(0x00 || leaf JSON)"
    path = [ref.unb64(h) for h in proof["inclusion_proof"]]
    root = ref.unb64(proof["root_hash"])
    assert ref.verify_inclusion(proof["log_index"], proof["tree_size"], leaf_hash, path, root)
    body, signatures = ref.note_split(proof["checkpoint"])
    origin, size, signed_root = ref.checkpoint_parse(body)
    assert (size, signed_root) == (proof["tree_size"], root)
    name, key_id, public = ref.vkey_parse(proof["key"])
    assert name == origin and ref.key_id(name, public) == key_id
    sig = next(s for n, s in signatures if n == name and s[:4] == key_id)
    Ed25519PublicKey.from_public_bytes(public).verify(sig[4:], body.encode())
    # And a proof with one hash changed does not verify.
    if path:
        bent = [bytes([path[0][0] ^ 1]) + path[0][1:], *path[1:]]
        assert not ref.verify_inclusion(
            proof["log_index"], proof["tree_size"], leaf_hash, bent, root
        )
    assert not ref.verify_inclusion(
        proof["log_index"], proof["tree_size"], ref.sha256(b"other"), path, root
    )


def _proofs_on(html: str) -> list[dict]:
    """The proofs as the page shows them, read back from the 'Check this proof' links' fragments."""
    fragments = re.findall(r'href="/transparency/log/verify/#([^"]+)"', html)
    shown = [json.loads(unescape(p)) for p in re.findall(r'<pre class="proof">(.*?)</pre>', html)]
    linked = [json.loads(unquote(unescape(f))) for f in fragments]
    assert linked == shown, "the link carries the same proof as the page shows"
    return shown


@pytest.fixture
def erased(client, dpo):
    """An erasure request carried out: (request, receipt, status page path)."""
    req = submit(client, "erasure")
    verify(client)
    status_path = link(mail.outbox[0], "requests")
    receipt, _outcome = services.erase_confirmed(request=req, actor=dpo)
    return req, receipt, status_path


def _about(req, receipt: ErasureReceipt) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(
            target_type="subjects.subjectrequest", target_id=str(req.pk)
        ).union(
            AuditEvent.objects.filter(
                target_type="subjects.erasurereceipt", target_id=str(receipt.pk)
            )
        )
    )


def test_erasure_receipt_proofs_verify_independently(client, erased):
    """Input: an erasure carried out, then sequenced. The status page shows one proof per event about
    the request and its receipt; each verifies with the reference and cryptography."""
    req, receipt, status_path = erased
    sequence_all()
    html = client.get(status_path).content.decode()
    proofs = _proofs_on(html)
    rows = sorted(_about(req, receipt), key=lambda r: r.seq)
    assert len(rows) >= 3  # received, verified, the receipt's check at least
    assert [p["log_index"] for p in proofs] == [r.leaf_index for r in rows]
    for proof, row in zip(proofs, rows, strict=True):
        check_proof(proof, row)
    assert PENDING not in html


def test_proofs_are_pending_until_sequenced_and_show_no_leaf_content(client, erased):
    """Input: the same receipt before the sequencer runs, then after. First every event is pending;
    then proofs, and the proofs section never shows the leaf's content (action, pseudonym, target)."""
    req, receipt, status_path = erased
    html = client.get(status_path).content.decode()
    section = html.split('id="log-proofs"', 1)[1].split("</section>", 1)[0]
    assert section.count(PENDING) == len(_about(req, receipt))
    assert "Check this proof" not in section
    sequence_all()
    html = client.get(status_path).content.decode()
    section = html.split('id="log-proofs"', 1)[1].split("</section>", 1)[0]
    for row in _about(req, receipt):
        for content in (row.action, row.details_digest, row.actor_label or "\x00"):
            assert content not in section, content
    assert "subjects.subjectrequest" not in section and req.email not in section


def test_access_package_page_carries_the_proofs(client, dpo):
    """Input: an access request whose package is built, sequenced. The package page shows a proof
    for each event about the request, each verifying independently."""
    req = submit(client, "access")
    verify(client)
    _package, token = services.access_package_build(request=req)
    sequence_all()
    html = client.get(reverse("subjects:package", args=[token])).content.decode()
    proofs = _proofs_on(html)
    rows = list(
        AuditEvent.objects.filter(
            target_type="subjects.subjectrequest", target_id=str(req.pk)
        ).order_by("seq")
    )
    assert proofs and len(proofs) == len(rows)
    for proof, row in zip(proofs, rows, strict=True):
        check_proof(proof, row)


def test_receipt_file_for_a_download_holds_proofs_and_counts_pending(client, dpo):
    """Input: the log-proofs.json the package's builder can add, before and after sequencing."""
    from subjects import log_proofs

    req = submit(client, "access")
    verify(client)
    before = json.loads(log_proofs.package_file(request=req))
    assert before["proofs"] == [] and before["pending"] >= 2
    sequence_all()
    after = json.loads(log_proofs.package_file(request=req))
    assert after["pending"] == 0 and len(after["proofs"]) == before["pending"]
    rows = {r.leaf_index: r for r in AuditEvent.objects.filter(leaf_index__isnull=False)}
    for proof in after["proofs"]:
        check_proof(proof, rows[proof["log_index"]])
    assert ref.mth([]) == hashlib.sha256(b"").digest()  # the reference's empty tree, per the RFC
