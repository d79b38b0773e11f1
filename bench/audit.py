"""Audit and retention benchmark, in a throwaway database on the configured server:

- append rate with the chain: 1 writer, 4 writer processes (separate connections, started and
  connected before the clock starts), and batches (``audit_record_many``), against a plain insert
  of the same row in the same kind of transaction (peer);
- export rates (CSV, JSON Lines) and verification rate over a long chain (filled with batches);
- retention sweep rate over expired source images with their files.

DEBUG is off in the bench and its writer processes, as in production (``DEBUG=True`` keeps a log of
every query, which roughly halves these rates).

    .venv/bin/python bench/audit.py [--events 5000] [--batch 100] [--export-events 100000]
        [--verify-events 1000000] [--sweep-images 100000] [--json]

``--json`` prints one JSON line per figure set (append, batch, export, verify, sweep), each with the
load average at the time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# The peer: the same row in the same kind of transaction, without the chain (no head lock, no hash).
PLAIN_INSERT = (
    "INSERT INTO compliance_auditevent (created_at, actor_label, actor_role, action, target_type, target_id,"
    " outcome, details, details_digest, prev_hash, row_hash) VALUES (now(), 'system', '', 'bench.plain',"
    " 'bench', '', 'success', %s::jsonb, %s, %s, md5(random()::text) || md5(random()::text))"
)

# A writer process: connect, say so, wait for the go line, append n events (one transaction each),
# chained (audit_record) or plain (the peer).
WRITER = f"""
import django, json, sys, time
django.setup()
from django.conf import settings
settings.DEBUG = False
from django.db import connection, transaction
from compliance.services import audit_record
n, mode = int(sys.argv[1]), sys.argv[2]
connection.ensure_connection()
print("ready", flush=True)
sys.stdin.readline()
start = time.perf_counter()
for i in range(n):
    with transaction.atomic():
        if mode == "plain":
            with connection.cursor() as cursor:
                cursor.execute({PLAIN_INSERT!r}, [json.dumps({{"i": i}}), "0" * 64, "0" * 64])
        else:
            audit_record(actor=None, action="bench.append.concurrent", target="bench", outcome="success", details={{"i": i}})
print(time.perf_counter() - start, flush=True)
"""


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _extend_chain(n: int, batch: int = 10_000) -> None:
    """Append n chained events through ``audit_record_many``, one transaction per batch."""
    from django.db import transaction

    from compliance.services import AuditEntry, audit_record_many

    done = 0
    while done < n:
        size = min(batch, n - done)
        entries = [
            AuditEntry(
                actor=None,
                action="bench.verify.fill",
                target="bench",
                outcome="success",
                details={"i": done + i},
            )
            for i in range(size)
        ]
        with transaction.atomic():
            audit_record_many(entries=entries)
        done += size


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


def _four_writers(per_writer: int, env: dict[str, str], mode: str) -> tuple[float, list[float]]:
    """4 writer processes, each connected before the clock starts; events/s in total, each one's seconds."""
    command = [sys.executable, "-c", WRITER, str(per_writer), mode]
    pipe = subprocess.PIPE
    procs = [
        subprocess.Popen(command, cwd=BASE_DIR, env=env, text=True, stdin=pipe, stdout=pipe)
        for _ in range(4)
    ]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    start = time.perf_counter()
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    own = []
    for p in procs:
        assert p.stdout is not None
        own.append(float(p.stdout.readline()))
        assert p.wait() == 0
    return 4 * per_writer / (time.perf_counter() - start), own


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=5000, help="events per append run")
    parser.add_argument(
        "--batch", type=int, default=100, help="events per audit_record_many call (one transaction)"
    )
    parser.add_argument("--export-events", type=int, default=100_000, help="chain length exported")
    parser.add_argument(
        "--verify-events", type=int, default=1_000_000, help="chain length to verify"
    )
    parser.add_argument(
        "--sweep-images", type=int, default=100_000, help="expired images (with files) to sweep"
    )
    parser.add_argument("--json", action="store_true", help="one JSON line per figure set")
    args = parser.parse_args()

    import django
    from django.conf import settings

    django.setup()
    # As in production: DEBUG's query log (development default) roughly halves every rate here.
    settings.DEBUG = False
    from django.db import connection, transaction

    from compliance.exports import audit_export_lines
    from compliance.models import AuditEvent
    from compliance.selectors import AuditFilters, audit_chain_verify
    from compliance.services import AuditEntry, audit_record, audit_record_many
    from config import devservices

    connection.settings_dict["TEST"]["NAME"] = "bench_audit"
    settings.AUDIT_ANCHOR_DIR = Path("/nonexistent-bench-anchors")
    import tempfile

    settings.MEDIA_ROOT = tempfile.mkdtemp(prefix="bench-media-")
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    figures: list[dict[str, object]] = []

    def emit(figure: str, **values: object) -> None:
        figures.append({"figure": figure, **values, "loadavg": _loadavg()})

    try:
        n = args.events
        env = {
            **os.environ,
            "DATABASE_URL": devservices.database_url(settings.DATABASES["default"]),
            "REDIS_URL": settings.REDIS_URL,
        }
        start = time.perf_counter()
        for i in range(n):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(PLAIN_INSERT, [json.dumps({"i": i}), "0" * 64, "0" * 64])
        plain = n / (time.perf_counter() - start)
        plain_four, _ = _four_writers(n // 4, env, "plain")
        with connection.cursor() as cursor:
            cursor.execute(
                "ALTER TABLE compliance_auditevent DISABLE TRIGGER compliance_auditevent_no_update_delete"
            )
            cursor.execute("DELETE FROM compliance_auditevent")
            cursor.execute(
                "ALTER TABLE compliance_auditevent ENABLE TRIGGER compliance_auditevent_no_update_delete"
            )

        start = time.perf_counter()
        for i in range(n):
            with transaction.atomic():
                audit_record(
                    actor=None,
                    action="bench.append.single",
                    target="bench",
                    outcome="success",
                    details={"i": i},
                )
        single = n / (time.perf_counter() - start)

        four, own = _four_writers(n // 4, env, "chained")
        report = audit_chain_verify()
        assert report.ok, report
        emit(
            "append",
            events=n,
            plain_insert_per_s=round(plain),
            plain_insert_per_s_4_writers=round(plain_four),
            events_per_s_1_writer=round(single),
            events_per_s_4_writers=round(four),
            writer_seconds=[round(s, 2) for s in own],
            chain_ok=report.ok,
        )

        batches = max(1, n // args.batch)
        start = time.perf_counter()
        for k in range(batches):
            entries = [
                AuditEntry(
                    actor=None,
                    action="bench.append.batch",
                    target="bench",
                    outcome="success",
                    details={"i": i},
                )
                for i in range(k * args.batch, (k + 1) * args.batch)
            ]
            with transaction.atomic():
                audit_record_many(entries=entries)
        batch_rate = batches * args.batch / (time.perf_counter() - start)
        emit(
            "batch",
            batch_size=args.batch,
            events=batches * args.batch,
            batch_events_per_s=round(batch_rate),
        )

        _extend_chain(args.export_events - AuditEvent.objects.count())
        rates = {}
        for fmt in ("csv", "jsonl"):
            start = time.perf_counter()
            size = sum(len(chunk) for chunk in audit_export_lines(filters=AuditFilters(), fmt=fmt))
            rates[fmt] = (AuditEvent.objects.count() / (time.perf_counter() - start), size)
        emit(
            "export",
            events=AuditEvent.objects.count(),
            csv_events_per_s=round(rates["csv"][0]),
            csv_bytes=rates["csv"][1],
            jsonl_events_per_s=round(rates["jsonl"][0]),
            jsonl_bytes=rates["jsonl"][1],
        )

        start = time.perf_counter()
        _extend_chain(args.verify_events - AuditEvent.objects.count())
        fill = time.perf_counter() - start
        start = time.perf_counter()
        report = audit_chain_verify()
        verify_s = time.perf_counter() - start
        assert report.ok, report
        emit(
            "verify",
            events=report.count,
            verify_s=round(verify_s, 1),
            verify_events_per_s=round(report.count / verify_s),
            verify_1m_s=round(verify_s * 1_000_000 / report.count, 1),
            fill_events_per_s=round(args.verify_events / fill),
        )

        sweep_n, sweep_seconds, files = _sweep_images(args.sweep_images)
        emit(
            "sweep",
            images=sweep_n,
            files=files,
            seconds=round(sweep_seconds, 1),
            images_per_s=round(sweep_n / sweep_seconds),
        )
    finally:
        connection.creation.destroy_test_db("bench_audit", verbosity=0)

    if args.json:
        for figure in figures:
            print(json.dumps(figure))
        return
    by = {f["figure"]: f for f in figures}
    a, b, e, v, sw = by["append"], by["batch"], by["export"], by["verify"], by["sweep"]
    print(
        f"append, plain insert (peer):   {a['plain_insert_per_s']:8} events/s, 4 writers {a['plain_insert_per_s_4_writers']}"
    )
    print(f"append, chained, 1 writer:     {a['events_per_s_1_writer']:8} events/s")
    print(
        f"append, chained, 4 writers:    {a['events_per_s_4_writers']:8} events/s in total (chain verified)"
    )
    print(f"append, batches of {b['batch_size']}:       {b['batch_events_per_s']:8} events/s")
    print(
        f"export ({e['events']} events): CSV {e['csv_events_per_s']} events/s, JSON Lines {e['jsonl_events_per_s']} events/s"
    )
    print(
        f"verify chain ({v['events']} events): {v['verify_s']} s, {v['verify_events_per_s']} events/s (1M ≈ {v['verify_1m_s']} s)"
    )
    print(
        f"retention sweep, {sw['images']} expired images + {sw['files']} files: {sw['images_per_s']} images/s ({sw['seconds']} s)"
    )
    print(f"load average at the end: {sw['loadavg']}")


if __name__ == "__main__":
    main()
