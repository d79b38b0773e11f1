"""C2SP signed notes and checkpoints with Ed25519. Pure functions (``cryptography`` and stdlib).

A checkpoint body is ``<origin>\\n<size>\\n<base64 root>\\n``; the signed note is the body, a blank
line and ``— <key name> <base64(key id || signature)>\\n``. The key id is the first 4 bytes of
SHA-256(key name || 0x0A || 0x01 || public key); the verifier key is
``<name>+<key id hex>+<base64(0x01 || public key)>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ED25519 = b"\x01"
DASH = "\u2014 "


class NoteError(ValueError):
    """A note, verifier key or checkpoint that does not parse or does not verify."""


def _raw_public(public_key: Ed25519PublicKey | bytes) -> bytes:
    if isinstance(public_key, bytes | bytearray):
        if len(public_key) != 32:
            raise NoteError("an Ed25519 public key is 32 bytes")
        return bytes(public_key)
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _check_name(name: str) -> None:
    if not name or any(c.isspace() for c in name) or "+" in name:
        raise NoteError(f"key name {name!r} is empty or holds a space or '+'")


def key_id(name: str, public_key: Ed25519PublicKey | bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ED25519 + _raw_public(public_key)).digest()[:4]


def vkey_for(name: str, public_key: Ed25519PublicKey | bytes) -> str:
    _check_name(name)
    raw = _raw_public(public_key)
    encoded = base64.b64encode(ED25519 + raw).decode()
    return f"{name}+{key_id(name, raw).hex()}+{encoded}"


def vkey_parse(vkey: str) -> tuple[str, bytes, Ed25519PublicKey]:
    """(name, key id, public key) of a verifier key line."""
    parts = vkey.strip().split("+", 2)
    if len(parts) != 3:
        raise NoteError("a verifier key is <name>+<key id hex>+<base64 key>")
    name, hex_id, encoded = parts
    try:
        kid, blob = bytes.fromhex(hex_id), base64.b64decode(encoded, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise NoteError("the verifier key's id or key is not hex / base64") from exc
    if len(kid) != 4 or len(blob) != 33 or blob[:1] != ED25519:
        raise NoteError("the verifier key is not an Ed25519 key (type 0x01, 32 bytes)")
    if key_id(name, blob[1:]) != kid:
        raise NoteError("the verifier key's id does not match its name and key")
    return name, kid, Ed25519PublicKey.from_public_bytes(blob[1:])


def note_sign(body: str, key: Ed25519PrivateKey, name: str | None = None) -> str:
    """Sign ``body`` (ending in a newline); the key name defaults to the body's first line."""
    if not body.endswith("\n"):
        raise NoteError("a note body ends with a newline")
    name = name if name is not None else body.split("\n", 1)[0]
    _check_name(name)
    signature = key.sign(body.encode())
    blob = base64.b64encode(key_id(name, key.public_key()) + signature).decode()
    return f"{body}\n{DASH}{name} {blob}\n"


def note_verify(note: str, vkey: str) -> str:
    """The body of ``note`` when it carries a good signature by ``vkey``; NoteError otherwise."""
    name, kid, public_key = vkey_parse(vkey)
    body, sep, signatures = note.rpartition("\n\n")
    if not sep or not signatures.endswith("\n"):
        raise NoteError("not a signed note (no blank line before the signatures)")
    body += "\n"
    for line in signatures[:-1].split("\n"):
        if not line.startswith(DASH):
            raise NoteError("a signature line starts with an em dash and a space")
        line_name, _, encoded = line[len(DASH) :].partition(" ")
        try:
            blob = base64.b64decode(encoded, validate=True)
        except binascii.Error as exc:
            raise NoteError("a signature is not base64") from exc
        if line_name != name or blob[:4] != kid:
            continue
        if len(blob) != 68:
            raise NoteError("an Ed25519 signature line holds 4 + 64 bytes")
        try:
            public_key.verify(blob[4:], body.encode())
        except InvalidSignature as exc:
            raise NoteError(f"the signature by {name} does not verify") from exc
        return body
    raise NoteError(f"the note has no signature by {name}")


def checkpoint_body(origin: str, size: int, root_hash: bytes) -> str:
    return f"{origin}\n{size}\n{base64.b64encode(root_hash).decode()}\n"


def checkpoint_parse(body: str) -> tuple[str, int, bytes]:
    """(origin, tree size, root hash) of a checkpoint body (extension lines are allowed)."""
    lines = body.split("\n")
    if len(lines) < 4 or lines[-1] != "" or not lines[0]:
        raise NoteError("a checkpoint body is origin, size and root, one a line")
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
        raise NoteError(f"checkpoint size {size_text!r} is not a decimal number")
    try:
        root_hash = base64.b64decode(root_text, validate=True)
    except binascii.Error as exc:
        raise NoteError("checkpoint root is not base64") from exc
    if len(root_hash) != 32:
        raise NoteError("checkpoint root is not 32 bytes")
    return origin, int(size_text), root_hash
