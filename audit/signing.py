"""The log's Ed25519 signing key: read from AUDIT_LOG_SIGNING_KEY_FILE; generated (mode 0600,
created exclusively) only where AUDIT_LOG_SIGNING_KEY_GENERATE is on (development and tests)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from audit import note

_lock = threading.Lock()
_cache: dict[str, Ed25519PrivateKey] = {}


def log_origin() -> str:
    """The log's name: settings.AUDIT_LOG_ORIGIN, or ``<host name of SITE_URL>/transparency/log``.

    The name is part of every checkpoint's signature line, so it must not change during the log's
    life: the port is left out (``make run`` moves to the next free port when its own is busy), and
    a production deployment sets AUDIT_LOG_ORIGIN once and keeps it when its address changes."""
    origin = getattr(settings, "AUDIT_LOG_ORIGIN", "")
    if origin:
        return origin
    parts = urlsplit(getattr(settings, "SITE_URL", "") or "http://localhost")
    return f"{parts.hostname or 'localhost'}/transparency/log"


def key_file_create(path: Path) -> None:
    """Write a new key to ``path`` unless one is there: the file appears complete or not at all
    (written aside, then hard-linked into place, which fails if another process got there first)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
    )
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


def key_load(path: Path) -> Ed25519PrivateKey:
    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise ImproperlyConfigured(f"audit log signing key {path} is unreadable: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ImproperlyConfigured(f"audit log signing key {path} is not an Ed25519 key")
    return key


def signing_key() -> Ed25519PrivateKey:
    path = Path(settings.AUDIT_LOG_SIGNING_KEY_FILE)
    with _lock:
        key = _cache.get(str(path))
        if key is None:
            if not path.exists():
                if not getattr(settings, "AUDIT_LOG_SIGNING_KEY_GENERATE", False):
                    raise ImproperlyConfigured(
                        f"audit log signing key {path} is missing (AUDIT_LOG_SIGNING_KEY_FILE);"
                        " production never generates one"
                    )
                key_file_create(path)
            key = _cache[str(path)] = key_load(path)
    return key


def verifier_key() -> str:
    """The vkey line outsiders check checkpoints with."""
    return note.vkey_for(log_origin(), signing_key().public_key())
