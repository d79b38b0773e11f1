"""Faults, with real processes: the sequencer SIGKILLed mid-batch, Redis down, two sequencers.

Each time: nothing lost, nothing sequenced twice, and no two checkpoints of one size differ.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from audit import merkle
from audit.models import AuditEvent, Checkpoint
from audit.selectors import audit_chain_verify
from config import devservices

BASE_DIR = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db(transaction=True)

WRITER = """
import django, os, sys
django.setup()
from django.db import transaction
from compliance.services import audit_record
for i in range(int(sys.argv[1])):
    with transaction.atomic():
        audit_record(actor=None, action="tests.fault.write", target="writer", outcome="success",
                     details={"writer": os.getpid(), "i": i})
"""


def _env(**extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.test_settings",
        "DATABASE_URL": devservices.database_url(settings.DATABASES["default"]),
        "REDIS_URL": settings.REDIS_URL,
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("AUDIT_SEQUENCER_TEST_PAUSE_FILE", None)
    env.update(extra)
    return env


def _sequencer(**extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "manage.py", "audit_sequencer"],
        cwd=BASE_DIR,
        env=_env(**extra),
        stderr=subprocess.PIPE,
    )


def _write(n: int, writers: int = 1, **extra: str) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(n)],
            cwd=BASE_DIR,
            env=_env(**extra),
            stderr=subprocess.PIPE,
        )
        for _ in range(writers)
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()


def _wait(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _all_sequenced() -> bool:
    return not AuditEvent.objects.filter(leaf_index__isnull=True).exists()


def _assert_one_tree() -> None:
    """Every event has one index, no gaps; every checkpoint's root is the tree of its size."""
    rows = list(AuditEvent.objects.order_by("leaf_index").values_list("leaf_index", "leaf_hash"))
    assert [r[0] for r in rows] == list(range(len(rows)))
    hashes = [bytes(r[1]) for r in rows]
    sizes = list(Checkpoint.objects.values_list("tree_size", flat=True))
    assert len(sizes) == len(set(sizes))
    for cp in Checkpoint.objects.all():
        assert bytes(cp.root_hash) == merkle.root(hashes[: cp.tree_size]), cp.tree_size
    report = audit_chain_verify()
    assert report.ok and report.pending == 0, report


def test_sequencer_killed_mid_batch_loses_nothing_and_sequences_nothing_twice(tmp_path):
    """Input: 60 committed events; the sequencer is SIGKILLed after it has numbered them and stored
    the tree nodes, before its checkpoint and commit; then started again."""
    _write(60)
    before = Checkpoint.objects.count()
    pause = tmp_path / "pause"
    pause.touch()
    first = _sequencer(AUDIT_SEQUENCER_TEST_PAUSE_FILE=str(pause))
    try:
        _wait(lambda: Path(f"{pause}.reached").exists())
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    # The batch rolled back with the process: nothing numbered, no checkpoint.
    assert AuditEvent.objects.filter(leaf_index__isnull=False).count() == 0
    assert Checkpoint.objects.count() == before
    pause.unlink()
    again = _sequencer()
    try:
        _wait(_all_sequenced)
        _wait(lambda: Checkpoint.objects.filter(tree_size=60).exists())
    finally:
        _stop(again)
    assert AuditEvent.objects.filter(action="tests.fault.write").count() == 60
    _assert_one_tree()


def test_appends_and_sequencing_work_with_redis_down():
    """Input: writers and the sequencer pointed at a Redis port where nothing listens."""
    dead = f"redis://127.0.0.1:{devservices.free_port()}/0"
    _write(25, writers=2, REDIS_URL=dead)
    seq = _sequencer(REDIS_URL=dead)
    try:
        _wait(_all_sequenced)
        _wait(lambda: Checkpoint.objects.filter(tree_size=50).exists())
        assert seq.poll() is None, seq.stderr.read().decode() if seq.stderr else ""
    finally:
        _stop(seq)
    _assert_one_tree()


def test_two_sequencers_at_once_make_one_tree():
    """Input: two sequencer processes running while four writer processes append 100 events each."""
    a, b = _sequencer(), _sequencer()
    try:
        _write(100, writers=4)
        _wait(_all_sequenced)
        _wait(lambda: Checkpoint.objects.filter(tree_size=400).exists())
        assert a.poll() is None and b.poll() is None, "both sequencers kept running"
    finally:
        _stop(a)
        _stop(b)
    assert AuditEvent.objects.count() == 400
    _assert_one_tree()
