"""A person checks a proof from their receipt on our page, in Chromium: the check runs in the browser
(WebCrypto SHA-256 and Ed25519), with the proof pasted or carried after the '#' of the link.

Bad things it would catch: a script blocked by the content security policy, an inclusion check that
accepts a changed proof, a page that sends the proof to the server, a signature never checked.
"""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

import pytest

from audit import tlog
from audit.models import AuditEvent
from audit.tlog import sequence_all
from compliance.services import audit_record
from tests.browser.conftest import requires_chromium

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), requires_chromium]


def _flip(b64: str, at: int = 0) -> str:
    raw = bytearray(base64.b64decode(b64))
    raw[at] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def _verdict(page) -> str:
    page.locator("#tlog-verdict").wait_for()
    return page.locator("#tlog-result").inner_text()


def test_a_real_proof_verifies_and_a_changed_one_does_not(journey_factory):
    """Input: a proof for event 5 of 9, pasted as is (verified); with one byte of the leaf hash, of a
    proof hash, or of the signature changed (does not verify); and carried in the link's fragment."""
    for i in range(9):
        audit_record(actor=None, action="test.browser.event", target=f"t:{i}", outcome="success")
    sequence_all()
    seq = AuditEvent.objects.order_by("seq").values_list("seq", flat=True)[4]
    proof = tlog.proof_for_event(seq)
    assert proof and proof["inclusion_proof"], "a tree of 9 leaves gives a non-empty path"
    j = journey_factory("log-verify")
    page = j.page
    requests_seen: list[str] = []
    page.on("request", lambda r: requests_seen.append(r.url))

    j.goto("/transparency/log/verify/")
    page.locator("#tlog-proof").fill(json.dumps(proof))
    page.get_by_role("button", name="Check").click()
    text = _verdict(page)
    assert "Verified" in text and "does not verify" not in text, text
    assert "The checkpoint signature is valid" in text, text
    assert "the key this site publishes" in text, text
    j.step("a real proof verifies")
    j.assert_fits()

    changes = {
        "leaf hash": {**proof, "leaf_hash": _flip(proof["leaf_hash"])},
        "a proof hash": {
            **proof,
            "inclusion_proof": [
                _flip(proof["inclusion_proof"][0], 31),
                *proof["inclusion_proof"][1:],
            ],
        },
        "root": {**proof, "root_hash": _flip(proof["root_hash"], 7)},
        "signature": {**proof, "checkpoint": _bent_signature(proof["checkpoint"])},
        "index": {**proof, "log_index": proof["log_index"] + 1},
    }
    for what, changed in changes.items():
        page.locator("#tlog-proof").fill(json.dumps(changed))
        page.get_by_role("button", name="Check").click()
        page.wait_for_function(
            "() => document.querySelector('#tlog-verdict')?.classList.contains('bad')"
        )
        text = _verdict(page)
        assert "does not verify" in text and "Verified" not in text, (what, text)
    j.step("a changed proof does not verify")

    page.locator("#tlog-proof").fill("not json")
    page.get_by_role("button", name="Check").click()
    assert "This is not a proof" in _verdict(page)

    # The receipt's link: the proof after '#', never sent to the server.
    fragment = quote(json.dumps(proof), safe="")
    requests_seen.clear()
    j.goto("/transparency/log/verify/#" + fragment)
    page.wait_for_function(
        "() => document.querySelector('#tlog-verdict')?.classList.contains('good')"
    )
    assert "Verified" in _verdict(page)
    assert all(proof["leaf_hash"] not in unquote_all(u) for u in requests_seen), requests_seen
    j.step("a proof from a receipt's link verifies")

    # A key whose base64 holds '+' (the name never does): still parsed and checked.
    j.goto("/transparency/log/verify/")
    page.locator("#tlog-proof").fill(json.dumps(_proof_with_plus_in_key()))
    page.get_by_role("button", name="Check").click()
    text = _verdict(page)
    assert "The checkpoint signature is valid" in text and "leads from the entry" in text, text
    assert "not the key this site publishes" in text, text  # signed by another key than ours
    j.finish()


def _proof_with_plus_in_key() -> dict:
    """A proof over 5 leaves built with the reference, signed by a key whose vkey holds a '+'."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from tests.audit import rfc9162_reference as ref

    name = "example.org/transparency/log"
    while True:
        key = Ed25519PrivateKey.generate()
        public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        material = ref.b64(b"\x01" + public)
        if "+" in material:
            break
    kid = ref.key_id(name, public)
    leaves = [ref.leaf(b"entry %d" % i) for i in range(5)]
    root = ref.mth(leaves)
    body = f"{name}\n5\n{ref.b64(root)}\n"
    note = body + "\n\u2014 " + name + " " + ref.b64(kid + key.sign(body.encode())) + "\n"
    return {
        "log_index": 3,
        "tree_size": 5,
        "leaf_hash": ref.b64(leaves[3]),
        "inclusion_proof": [ref.b64(h) for h in ref.path(3, leaves)],
        "root_hash": ref.b64(root),
        "checkpoint": note,
        "key": f"{name}+{kid.hex()}+{material}",
    }


def unquote_all(url: str) -> str:
    from urllib.parse import unquote

    return unquote(url)


def _bent_signature(note: str) -> str:
    body, _sep, signatures = note.partition("\n\n")
    line = signatures.strip("\n").split("\n")[0]
    name, _space, sig = line.rpartition(" ")
    return body + "\n\n" + name + " " + _flip(sig, 10) + "\n"


def test_a_person_checks_their_erasure_receipt_from_the_status_page(journey_factory, dpo):
    """Input: an erasure request carried out and sequenced. On their status page the person clicks
    "Check this proof": the checker opens with the proof after the '#' and says it verifies."""
    from django.core import mail
    from django.test import Client

    from subjects import services
    from tests.subjects.requests_support import link, submit, verify

    client = Client()
    req = submit(client, "erasure")
    verify(client)
    services.erase_confirmed(request=req, actor=dpo)
    sequence_all()
    status_path = link(mail.outbox[0], "requests")
    j = journey_factory("log-verify-receipt")
    page = j.page
    j.goto(status_path)
    proofs = page.locator("#log-proofs a.verify-proof")
    assert proofs.count() >= 3, page.locator("#log-proofs").inner_text()
    j.step("the receipt lists its log proofs")
    j.assert_fits()
    proofs.last.click()
    page.wait_for_function(
        "() => document.querySelector('#tlog-verdict')?.classList.contains('good')"
    )
    assert "Verified" in _verdict(page)
    assert page.url.split("#")[0].endswith("/transparency/log/verify/")
    j.step("the receipt's proof verifies in the browser")
    j.finish()
