"""Audit and retention benchmark, in a throwaway database on the configured server:

- append rate with the chain, 1 and 4 writer processes, against a plain insert (peer);
- verification rate over a long chain (built fast with precomputed hashes, then verified);
- retention sweep rate over expired source images with their files.

    .venv/bin/python bench/audit.py [--events 5000] [--verify-events 1000000] [--sweep-images 100000]
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

WRITER = """
import django, sys, time
django.setup()
from django.db import transaction
from compliance.services import audit_record
n = int(sys.argv[1])
for i in range(n):
    with transaction.atomic():
        audit_record(actor=None, action="bench.append.concurrent", target="bench", outcome="success", details={"i": i})
"""


def _extend_chain(n: int, batch: int = 20_000) -> None:
    """Append n valid chained events fast: hashes computed here, rows bulk-inserted in order."""
    from django.db import connection
    from django.utils import timezone

    from compliance.models import AuditEvent
    from compliance.services import GENESIS_HASH, details_digest_for, row_hash_for

    last = AuditEvent.objects.order_by("-seq").values_list("seq", "row_hash").first()
    seq, prev = (last[0], last[1]) if last else (0, GENESIS_HASH)
    done = 0
    while done < n:
        rows = []
        for i in range(min(batch, n - done)):
            seq += 1
            details = {"i": done + i}
            event = AuditEvent(
                seq=seq,
                created_at=timezone.now(),
                actor_label="system",
                action="bench.verify.fill",
                target_type="bench",
                outcome="success",
                details=details,
                details_digest=details_digest_for(details),
                prev_hash=prev,
            )
            event.row_hash = row_hash_for(event)
            prev = event.row_hash
            rows.append(event)
        AuditEvent.objects.bulk_create(rows)
        done += len(rows)
    with connection.cursor() as cursor:  # keep the sequence ahead of the ids we chose
        cursor.execute("SELECT setval(pg_get_serial_sequence('compliance_auditevent', 'seq'), %s)", [seq])


def _sweep_images(n: int) -> tuple[int, float, int]:
    """n expired source images, each with a file, swept by the real retention sweep."""
    import hashlib
    from datetime import timedelta

    from django.conf import settings
    from django.utils import timezone

    from compliance import retention
    from search.models import SourceImage

    root = Path(settings.MEDIA_ROOT)
    old = timezone.now() - timedelta(days=400)
    rows = []
    for i in range(n):
        digest = hashlib.sha256(f"bench-{i}".encode()).hexdigest()
        name = f"bench-sweep/{digest[:2]}/{digest}.jpg"
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 64)
        rows.append(
            SourceImage(
                file=name,
                sha256=digest,
                width=1,
                height=1,
                format="JPEG",
                byte_size=64,
                source_label="bench",
                first_seen=old,
                last_seen=old,
                status="done",
            )
        )
    SourceImage.objects.bulk_create(rows, batch_size=10_000)
    retention.retention_policies_ensure()
    start = time.perf_counter()
    receipt = retention.retention_sweep(data_class="source_images", chunk_size=2000)
    seconds = time.perf_counter() - start
    assert receipt is not None and receipt.affected == n, receipt
    assert not any((root / "bench-sweep").rglob("*.jpg"))
    return n, seconds, receipt.files_deleted


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=5000, help="events per append run")
    parser.add_argument("--verify-events", type=int, default=1_000_000, help="chain length to verify")
    parser.add_argument("--sweep-images", type=int, default=100_000, help="expired images (with files) to sweep")
    args = parser.parse_args()

    import django
    from django.conf import settings

    django.setup()
    from django.db import connection, transaction
    from django.utils import timezone

    from compliance.models import AuditEvent
    from compliance.selectors import audit_chain_verify
    from compliance.services import audit_record
    from config import devservices

    connection.settings_dict["TEST"]["NAME"] = "bench_audit"
    settings.AUDIT_ANCHOR_DIR = Path("/nonexistent-bench-anchors")
    import tempfile

    settings.MEDIA_ROOT = tempfile.mkdtemp(prefix="bench-media-")
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        n = args.events
        # Peer: the same row inserted without the chain (no lock, no hash, no lookup).
        start = time.perf_counter()
        for i in range(n):
            with transaction.atomic():
                AuditEvent.objects.create(
                    created_at=timezone.now(),
                    action="bench.plain",
                    outcome="success",
                    details={"i": i},
                    details_digest="0" * 64,
                    prev_hash="0" * 64,
                    row_hash=secrets.token_hex(32),
                )
        plain = n / (time.perf_counter() - start)
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE compliance_auditevent DISABLE TRIGGER compliance_auditevent_no_update_delete")
            cursor.execute("DELETE FROM compliance_auditevent")
            cursor.execute("ALTER TABLE compliance_auditevent ENABLE TRIGGER compliance_auditevent_no_update_delete")

        start = time.perf_counter()
        for i in range(n):
            with transaction.atomic():
                audit_record(actor=None, action="bench.append.single", target="bench", outcome="success", details={"i": i})
        single = n / (time.perf_counter() - start)

        env = {
            **os.environ,
            "DATABASE_URL": devservices.database_url(settings.DATABASES["default"]),
            "REDIS_URL": settings.REDIS_URL,
        }
        per_writer = n // 4
        start = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(per_writer)], cwd=BASE_DIR, env=env) for _ in range(4)]
        for p in procs:
            p.wait()
        # Subtract nothing: process start-up (~1 s each, in parallel) is inside the figure.
        four = 4 * per_writer / (time.perf_counter() - start)

        _extend_chain(args.verify_events - AuditEvent.objects.count())
        start = time.perf_counter()
        report = audit_chain_verify()
        verify_rate = report.count / (time.perf_counter() - start)
        assert report.ok, report

        sweep_n, sweep_seconds, files = _sweep_images(args.sweep_images)

        print(f"append, plain insert (peer):   {plain:8.0f} events/s")
        print(f"append, chained, 1 writer:     {single:8.0f} events/s  ({single / plain:.2f}x plain)")
        print(f"append, chained, 4 writers:    {four:8.0f} events/s  ({four / single:.2f}x one writer)")
        print(f"verify chain ({report.count} events): {verify_rate:8.0f} events/s (1M events ≈ {1_000_000 / verify_rate:.0f} s)")
        what = f"{sweep_n} expired images + {files} files"
        print(f"retention sweep, {what}: {sweep_n / sweep_seconds:8.0f} images/s ({sweep_seconds:.1f} s)")
    finally:
        connection.creation.destroy_test_db("bench_audit", verbosity=0)


if __name__ == "__main__":
    main()
