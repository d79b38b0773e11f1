"""The log's signing key: generated once (exclusive create, mode 0600) in development and tests,
shared by processes that start together; required, never generated, in production."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from audit import note, signing

BASE_DIR = Path(__file__).resolve().parents[2]

CREATE = """
import sys
from pathlib import Path
sys.path.insert(0, ".")
from cryptography.hazmat.primitives.serialization import load_pem_private_key, Encoding, PublicFormat
from audit.signing import key_file_create
path = Path(sys.argv[1])
sys.stdin.readline()
key_file_create(path)
key = load_pem_private_key(path.read_bytes(), None)
print(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex())
"""


def test_key_file_is_created_once_with_mode_0600_by_processes_starting_together(tmp_path):
    """Input: eight processes creating the same key file at the same instant: all read one key."""
    path = tmp_path / "keys" / "audit-log.key"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CREATE, str(path)],
            cwd=BASE_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    keys = {p.communicate(timeout=60)[0].strip() for p in procs}
    assert len(keys) == 1 and len(next(iter(keys))) == 64
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["audit-log.key"]  # no leftovers


def test_missing_key_is_refused_where_generation_is_off(settings, tmp_path):
    """Input: production's settings (no generation) and no key file."""
    settings.AUDIT_LOG_SIGNING_KEY_FILE = str(tmp_path / "absent.key")
    settings.AUDIT_LOG_SIGNING_KEY_GENERATE = False
    with pytest.raises(ImproperlyConfigured, match="production never generates one"):
        signing.signing_key()
    assert not (tmp_path / "absent.key").exists()


def test_unreadable_key_is_refused(settings, tmp_path):
    bad = tmp_path / "bad.key"
    bad.write_text("not a key")
    settings.AUDIT_LOG_SIGNING_KEY_FILE = str(bad)
    with pytest.raises(ImproperlyConfigured, match="unreadable"):
        signing.signing_key()


def test_verifier_key_names_the_origin(settings, tmp_path):
    settings.AUDIT_LOG_SIGNING_KEY_FILE = str(tmp_path / "k.key")
    settings.AUDIT_LOG_ORIGIN = ""
    settings.SITE_URL = "https://faces.example.org"
    assert signing.log_origin() == "faces.example.org/transparency/log"
    name, _, _ = note.vkey_parse(signing.verifier_key())
    assert name == "faces.example.org/transparency/log"
