"""The public log endpoints, checked from outside: an anonymous client fetches the checkpoint, the key
and consistency proofs, and the tests verify them with the RFC 9162 reference written from the RFC
(tests/audit/rfc9162_reference.py) and the signature with ``cryptography`` directly.

Bad things they would catch: a checkpoint whose signature or key id is wrong, a consistency proof that
the RFC's algorithm rejects, a root on /transparency/ that differs from the signed one, an endpoint
behind a login, and a bad ``from``/``to`` answered with a 500 or a proof instead of a clear 400.
"""

from __future__ import annotations

import json
import re

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.urls import reverse

from audit.tlog import sequence_all
from compliance.services import audit_record
from tests.audit import rfc9162_reference as ref

pytestmark = pytest.mark.django_db(transaction=True)


def _events(count: int, label: str) -> None:
    for i in range(count):
        audit_record(actor=None, action="test.log.event", target=f"{label}:{i}", outcome="success")


def _signed(client) -> tuple[str, int, bytes]:
    """Fetch the checkpoint and the key, check the signature with cryptography: (origin, size, root)."""
    key_response = client.get(reverse("transparency:log_key"))
    assert key_response.status_code == 200
    assert key_response["Content-Type"].startswith("text/plain")
    name, key_id, public = ref.vkey_parse(key_response.content.decode())
    assert ref.key_id(name, public) == key_id, "the vkey's id is SHA-256(name, 0x0A, 0x01, key)[:4]"
    response = client.get(reverse("transparency:log_checkpoint"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert "max-age" in response["Cache-Control"] and "public" in response["Cache-Control"]
    body, signatures = ref.note_split(response.content.decode())
    ours = [sig for sig_name, sig in signatures if sig_name == name and sig[:4] == key_id]
    assert len(ours) == 1, signatures
    Ed25519PublicKey.from_public_bytes(public).verify(ours[0][4:], body.encode())  # raises if bad
    origin, size, root = ref.checkpoint_parse(body)
    assert origin == name
    return origin, size, root


def test_checkpoint_and_key_are_public_and_the_signature_verifies(client):
    """Input: 5 events sequenced. The signed note's signature verifies with cryptography, its origin is
    the key's name, and its size and root are those the reference computes over the leaf hashes."""
    _events(5, "a")
    sequence_all()
    origin, size, root = _signed(client)
    assert origin.endswith("/transparency/log")
    leaves = [bytes(h) for h in _leaf_hashes(size)]
    assert ref.mth(leaves) == root


def _leaf_hashes(size: int) -> list[bytes]:
    from audit.models import AuditEvent

    rows = AuditEvent.objects.filter(leaf_index__lt=size).order_by("leaf_index")
    hashes = [_raw(h) for h in rows.values_list("leaf_hash", flat=True)]
    assert len(hashes) == size
    return hashes


def _raw(value: bytes | memoryview | str) -> bytes:
    return bytes.fromhex(value) if isinstance(value, str) else bytes(value)


def test_consistency_proofs_verify_with_the_reference(client):
    """Input: a log grown in three steps. Every proof from each published size to the latest verifies
    with the RFC's algorithm against the two signed roots; a wrong root does not."""
    _events(3, "b")
    sequence_all()
    _o, first_size, first_root = _signed(client)
    _events(4, "c")
    sequence_all()
    _o, middle_size, middle_root = _signed(client)
    _events(6, "d")
    sequence_all()
    _o, size, root = _signed(client)
    assert first_size < middle_size < size
    leaves = _leaf_hashes(size)
    for m, m_root in [(first_size, first_root), (middle_size, middle_root)]:
        response = client.get(reverse("transparency:log_consistency"), {"from": m, "to": size})
        assert response.status_code == 200, response.content
        assert "immutable" in response["Cache-Control"]
        body = json.loads(response.content)
        assert (body["from"], body["to"]) == (m, size)
        assert ref.unb64(body["from_root"]) == m_root and ref.unb64(body["to_root"]) == root
        proof = [ref.unb64(h) for h in body["proof"]]
        assert proof == ref.proof(m, leaves), "the proof is the RFC's PROOF(m, D[n])"
        assert ref.verify_consistency(m, size, m_root, root, proof)
        assert not ref.verify_consistency(m, size, m_root, ref.sha256(b"forged"), proof)
    # Every smaller size too, against the reference's own roots (not only the published ones).
    for m in range(1, size + 1):
        body = client.get(reverse("transparency:log_consistency"), {"from": m, "to": size}).json()
        proof = [ref.unb64(h) for h in body["proof"]]
        assert ref.verify_consistency(m, size, ref.mth(leaves[:m]), root, proof), m


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({}, "missing_size"),
        ({"from": "1"}, "missing_size"),
        ({"to": "1"}, "missing_size"),
        ({"from": "one", "to": "2"}, "bad_size"),
        ({"from": "-1", "to": "2"}, "bad_size"),
        ({"from": "1", "to": "-2"}, "bad_size"),
        ({"from": "1.0", "to": "2"}, "bad_size"),
        ({"from": "+1", "to": "2"}, "bad_size"),
        ({"from": " 1", "to": "2"}, "bad_size"),
        ({"from": "0x1", "to": "2"}, "bad_size"),
        ({"from": "1", "to": "9" * 40}, "bad_size"),
        ({"from": "1", "to": "9223372036854775807"}, "beyond_tree"),
        ({"from": "1", "to": "100000"}, "beyond_tree"),
        ({"from": "0", "to": "2"}, "bad_size"),
        ({"from": "3", "to": "2"}, "bad_range"),
    ],
)
def test_consistency_refuses_bad_sizes_clearly(client, query, code):
    """Input: each bad from/to. A 400 with the error shape and a message, never a proof or a 500."""
    _events(3, "e")
    sequence_all()
    response = client.get(reverse("transparency:log_consistency"), query)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"]["code"] == code and body["error"]["message"]
    assert response["Cache-Control"] == "no-store"


def test_log_endpoints_answer_get_only(client):
    """Input: POST to each endpoint. 405: they are read-only."""
    for name in ("log_checkpoint", "log_key", "log_consistency", "log_verify"):
        assert client.post(reverse(f"transparency:{name}")).status_code == 405, name


def test_transparency_page_shows_the_signed_state_and_links(client):
    """Input: two sequenced batches. /transparency/ shows the signed size and root, links the
    checkpoint, the key and the checker, and each history row's consistency link gives a valid proof."""
    _events(2, "f")
    sequence_all()
    _events(3, "g")
    sequence_all()
    _o, size, root = _signed(client)
    page = client.get(reverse("transparency:report"))
    assert page.status_code == 200
    html = page.content.decode()
    assert f'<dd id="log-size">{size}</dd>' in html
    assert ref.b64(root) in html
    for name in ("log_checkpoint", "log_key", "log_verify"):
        assert f'href="{reverse("transparency:" + name)}"' in html
    links = [
        part.split('"')[0].replace("&amp;", "&")
        for part in html.split('href="')[1:]
        if part.startswith(reverse("transparency:log_consistency"))
    ]
    assert links, "the history links the consistency proof between consecutive checkpoints"
    for link in links:
        body = client.get(link).json()
        proof = [ref.unb64(h) for h in body["proof"]]
        assert ref.verify_consistency(
            body["from"],
            body["to"],
            ref.unb64(body["from_root"]),
            ref.unb64(body["to_root"]),
            proof,
        )


def test_verify_page_loads_only_our_script(client):
    """Input: the checker page. It is public, loads one script from our static files, none inline,
    and the content security policy allows scripts from this site only."""
    page = client.get(reverse("transparency:log_verify"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "js/tlog-verify.js" in html
    assert "<script>" not in html and '<script src="http' not in html
    csp = page.get("Content-Security-Policy", "")
    assert "script-src 'self'" in csp


@pytest.mark.parametrize("language", ["fr", "it", "nl", "de"])
def test_log_pages_are_in_the_language_asked_for(client, language):
    """Input: the checker page, the report's log section (with checkpoints) and the checker's messages
    (in data attributes), asked for in each language. No English sentence is left in them."""
    from tests.i18n.test_public_pages import english_left

    _events(2, "h")
    sequence_all()
    _events(2, "i")
    sequence_all()
    for name in ("log_verify", "report"):
        response = client.get(reverse(f"transparency:{name}"), HTTP_ACCEPT_LANGUAGE=language)
        page = response.content.decode()
        assert response.status_code == 200 and f'lang="{language}"' in page
        assert not english_left(page, language), (name, english_left(page, language))
    page = client.get(reverse("transparency:log_verify"), HTTP_ACCEPT_LANGUAGE=language)
    messages = " . ".join(re.findall(r'data-msg-[a-z-]+="([^"]*)"', page.content.decode()))
    assert len(re.findall("data-msg-", page.content.decode())) >= 19
    assert not english_left(f"<main><p>{messages}</p></main>", language), messages


def test_bad_consistency_message_follows_the_language(client):
    """Input: from=abc asked in German. The error message is German; the code stays stable."""
    _events(2, "j")
    sequence_all()
    response = client.get(
        reverse("transparency:log_consistency"),
        {"from": "abc", "to": "2"},
        HTTP_ACCEPT_LANGUAGE="de",
    )
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "bad_size",
        "message": "from muss eine ganze Zahl ab 0 sein, nur mit Ziffern geschrieben.",
    }
