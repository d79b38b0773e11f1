"""audit.note: signed checkpoints in the C2SP signed-note format, checked byte by byte."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from audit import note

SEED = bytes(range(32))
ORIGIN = "example.org/transparency/log"


def key():
    return Ed25519PrivateKey.from_private_bytes(SEED)


def raw_public():
    return key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def test_vkey_is_name_key_id_and_typed_key_written_out_by_hand():
    pub = raw_public()
    kid = hashlib.sha256(ORIGIN.encode() + b"\n\x01" + pub).digest()[:4]
    typed = base64.b64encode(b"\x01" + pub).decode()
    expected = f"{ORIGIN}+{kid.hex()}+{typed}"
    assert note.vkey_for(ORIGIN, key().public_key()) == expected
    assert note.vkey_for(ORIGIN, pub) == expected


def test_signed_checkpoint_layout_and_signature():
    root = hashlib.sha256(b"").digest()
    body = note.checkpoint_body(ORIGIN, 0, root)
    assert body == f"{ORIGIN}\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"
    signed = note.note_sign(body, key())
    head, sig_line = signed.split("\n\n")
    assert head + "\n" == body
    assert sig_line.startswith(f"\u2014 {ORIGIN} ") and sig_line.endswith("\n")
    blob = base64.b64decode(sig_line.split(" ")[2])
    assert len(blob) == 68
    assert blob[:4] == hashlib.sha256(ORIGIN.encode() + b"\n\x01" + raw_public()).digest()[:4]
    key().public_key().verify(blob[4:], body.encode())  # raises if the bytes signed differ
    vkey = note.vkey_for(ORIGIN, raw_public())
    assert note.note_verify(signed, vkey) == body
    assert note.checkpoint_parse(body) == (ORIGIN, 0, root)


def test_tampered_notes_and_other_keys_are_refused():
    body = note.checkpoint_body(ORIGIN, 5, bytes(32))
    signed = note.note_sign(body, key())
    vkey = note.vkey_for(ORIGIN, raw_public())
    with pytest.raises(note.NoteError, match="does not verify"):
        note.note_verify(signed.replace("\n5\n", "\n6\n"), vkey)
    other = Ed25519PrivateKey.generate()
    with pytest.raises(note.NoteError, match="no signature by"):
        note.note_verify(signed, note.vkey_for(ORIGIN, other.public_key()))
    # the other key under the same name and (forged) same id: the signature itself fails
    forged = note.note_sign(body, other)
    forged = forged.replace(forged.split(" ")[-1][:8], signed.split(" ")[-1][:8])
    with pytest.raises(note.NoteError):
        note.note_verify(forged, vkey)
    with pytest.raises(note.NoteError, match="not a signed note"):
        note.note_verify(body, vkey)
    with pytest.raises(note.NoteError, match="id does not match"):
        name, _, blob = vkey.split("+", 2)
        note.note_verify(signed, f"{name}+00000000+{blob}")


@pytest.mark.parametrize(
    "body",
    [
        "x\n01\nAAAA\n",
        "x\n1\n" + base64.b64encode(bytes(31)).decode() + "\n",
        "x\n1\n",
        "x\n-1\nA=\n",
    ],
)
def test_checkpoint_parse_refuses_malformed_bodies(body):
    with pytest.raises(note.NoteError):
        note.checkpoint_parse(body)


def test_key_names_with_spaces_are_refused():
    with pytest.raises(note.NoteError):
        note.note_sign("a b\n1\nAA==\n", key())
