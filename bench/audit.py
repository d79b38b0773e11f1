"""Audit log (transparency log) and retention benchmark, in a throwaway database on the configured
server, in one run:

- append rate: a plain single-row insert (peer) and ``audit_record``, one event per transaction,
  1 writer on the same connection; then 4 writer processes (separate connections, started and
  connected before the clock starts) for each, the chained run with the sequencer process running;
- sequencing latency, commit to signed checkpoint (p50/p99), measured on those 4 writers' events;
- batches (``audit_record_many``);
- verification time over N events (filled with batches, then sequenced);
- optional: export rates (CSV, JSON Lines) and the retention sweep (``--export-events``,
  ``--sweep-images``; 0 skips them).

DEBUG is off in the bench and its writer processes, as in production (``DEBUG=True`` keeps a log of
every query, which roughly halves these rates).

    .venv/bin/python bench/audit.py [--events 5000] [--batch 100] [--export-events 100000]
        [--verify-events 200000] [--sweep-images 0] [--json]

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

# The peer: the same row in the same kind of transaction, with a random 32-byte hash, without the
# log's work (no canonical JSON, no leaf hash of the row).
PLAIN_INSERT = (
    "INSERT INTO compliance_auditevent (created_at, actor_label, actor_role, action, target_type, target_id,"
    " outcome, details, details_digest, leaf_hash) VALUES (now(), 'system', '', 'bench.plain',"
    " 'bench', '', 'success', %s::jsonb, %s, sha256(random()::text::bytea))"
)

# A writer process: connect, say so, wait for the go line, append n events (one transaction each),
# chained (audit_record) or plain (the peer).
WRITER = f"""
import django, json, sys, time
from config.devservices import ensure_environment  # noqa: E402

ensure_environment()  # settings start nothing: like manage.py, the bench starts the servers
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
commits = []
for i in range(n):
    with transaction.atomic():
        if mode == "plain":
            with connection.cursor() as cursor:
                cursor.execute({PLAIN_INSERT!r}, [json.dumps({{"i": i}}), "0" * 64])
        else:
            event = audit_record(actor=None, action="bench.append.concurrent", target="bench", outcome="success", details={{"i": i}})
    if mode != "plain":
        commits.append((event.seq, time.time()))
print(time.perf_counter() - start, flush=True)
print(json.dumps(commits), flush=True)
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
    own, commits = [], []
    for p in procs:
        assert p.stdout is not None
        own.append(float(p.stdout.readline()))
        commits.extend(json.loads(p.stdout.readline()))
        assert p.wait() == 0
    rate = 4 * per_writer / (time.perf_counter() - start)
    _four_writers.commits = commits  # type: ignore[attr-defined]
    return rate, own


class _CheckpointWatch:
    """Polls the latest checkpoint's size every 5 ms in a thread: when each size was first seen."""

    def __init__(self) -> None:
        import threading

        self.seen: list[tuple[int, float]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        from django.db import connection

        last = -1
        with connection.cursor() as cursor:
            while not self.stop.is_set():
                cursor.execute("SELECT coalesce(max(tree_size), 0) FROM audit_checkpoint")
                size = cursor.fetchone()[0]
                if size != last:
                    self.seen.append((size, time.time()))
                    last = size
                time.sleep(0.005)
        connection.close()

    def latencies(self, commits: list[tuple[int, float]]) -> list[float]:
        """Seconds from each event's commit to the first checkpoint seen that holds its leaf."""
        from compliance.models import AuditEvent

        index = dict(
            AuditEvent.objects.filter(seq__in=[s for s, _ in commits]).values_list(
                "seq", "leaf_index"
            )
        )
        out = []
        for seq, committed in commits:
            leaf = index[seq]
            seen = next(t for size, t in self.seen if size > leaf)
            out.append(max(0.0, seen - committed))
        return sorted(out)


def _percentile(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=5000, help="events per append run")
    parser.add_argument(
        "--batch", type=int, default=100, help="events per audit_record_many call (one transaction)"
    )
    parser.add_argument(
        "--export-events", type=int, default=0, help="log length exported (0: skip)"
    )
    parser.add_argument(
        "--verify-events", type=int, default=200_000, help="log length to verify (goal: 1000000)"
    )
    parser.add_argument(
        "--sweep-images", type=int, default=0, help="expired images (with files) to sweep (0: skip)"
    )
    parser.add_argument("--json", action="store_true", help="one JSON line per figure set")
    args = parser.parse_args()

    import django
    from django.conf import settings

    from config.devservices import ensure_environment

    ensure_environment()  # settings start nothing: like manage.py, the bench starts the servers
    django.setup()
    # As in production: DEBUG's query log (development default) roughly halves every rate here.
    settings.DEBUG = False
    from django.db import connection, transaction

    from audit.tlog import sequence_all
    from compliance.models import AuditEvent
    from compliance.selectors import audit_chain_verify
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
                cursor.execute(PLAIN_INSERT, [json.dumps({"i": i}), "0" * 64])
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

        sequence_all()
        # 4 writers with the sequencer process running, as in production; latency from their commits.
        sequencer = subprocess.Popen(
            [sys.executable, "manage.py", "audit_sequencer"], cwd=BASE_DIR, env=env
        )
        watch = _CheckpointWatch()
        watch.thread.start()
        try:
            # Started (imports, connection) before the clock: wait for it to sequence one event.
            with transaction.atomic():
                audit_record(actor=None, action="bench.warmup", target="bench", outcome="success")
            deadline = time.monotonic() + 120
            while AuditEvent.objects.filter(leaf_index__isnull=True).exists():
                assert time.monotonic() < deadline, "the sequencer did not start"
                time.sleep(0.05)
            four, own = _four_writers(n // 4, env, "chained")
            deadline = time.monotonic() + 60
            while AuditEvent.objects.filter(leaf_index__isnull=True).exists():
                assert time.monotonic() < deadline, "the sequencer did not keep up"
                time.sleep(0.05)
            time.sleep(0.05)
        finally:
            sequencer.terminate()
            sequencer.wait(timeout=30)
            watch.stop.set()
            watch.thread.join()
        latency = watch.latencies(_four_writers.commits)  # type: ignore[attr-defined]
        report = audit_chain_verify()
        assert report.ok, report
        emit(
            "append",
            events=n,
            plain_insert_per_s=round(plain),
            plain_insert_per_s_4_writers=round(plain_four),
            events_per_s_1_writer=round(single),
            events_per_s_4_writers=round(four),
            ratio_1_writer=round(single / plain, 3),
            ratio_4_writers=round(four / plain_four, 3),
            writer_seconds=[round(s, 2) for s in own],
            log_ok=report.ok,
        )
        emit(
            "latency",
            events=len(latency),
            p50_s=round(_percentile(latency, 50), 3),
            p99_s=round(_percentile(latency, 99), 3),
            max_s=round(latency[-1], 3),
            checkpoints=len(watch.seen),
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

        if args.export_events:
            _export(args, emit)

        start = time.perf_counter()
        _extend_chain(args.verify_events - AuditEvent.objects.count())
        fill = time.perf_counter() - start
        start = time.perf_counter()
        sequence_all(50_000)
        sequence_s = time.perf_counter() - start
        start = time.perf_counter()
        report = audit_chain_verify()
        verify_s = time.perf_counter() - start
        assert report.ok, report
        assert report.tree_size == report.count, report
        emit(
            "verify",
            events=report.count,
            verify_s=round(verify_s, 1),
            verify_events_per_s=round(report.count / verify_s),
            verify_1m_s=round(verify_s * 1_000_000 / report.count, 1),
            fill_events_per_s=round(args.verify_events / fill),
            sequence_events_per_s=round(report.count / sequence_s),
        )

        if args.sweep_images:
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
    _print(args, figures)


def _export(args: argparse.Namespace, emit) -> None:
    from compliance.exports import audit_export_lines
    from compliance.models import AuditEvent
    from compliance.selectors import AuditFilters

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


def _print(args: argparse.Namespace, figures: list[dict[str, object]]) -> None:
    if args.json:
        for figure in figures:
            print(json.dumps(figure))
        return
    by = {f["figure"]: f for f in figures}
    a, lat, b, v = by["append"], by["latency"], by["batch"], by["verify"]
    print(
        f"append, plain insert (peer):   {a['plain_insert_per_s']:8} events/s, 4 writers {a['plain_insert_per_s_4_writers']}"
    )
    print(
        f"append, audit_record, 1 writer: {a['events_per_s_1_writer']:7} events/s"
        f" = {a['ratio_1_writer']:.0%} of the plain insert (goal >= 90 %)"
    )
    print(
        f"append, audit_record, 4 writers: {a['events_per_s_4_writers']:6} events/s in total"
        f" = {a['ratio_4_writers']:.0%} of 4 plain writers (goal >= 2,000/s; sequencer running)"
    )
    print(
        f"commit to signed checkpoint ({lat['events']} events): p50 {lat['p50_s']} s,"
        f" p99 {lat['p99_s']} s, max {lat['max_s']} s (goal p99 <= 2 s)"
    )
    print(f"append, batches of {b['batch_size']}:       {b['batch_events_per_s']:8} events/s")
    if "export" in by:
        e = by["export"]
        print(
            f"export ({e['events']} events): CSV {e['csv_events_per_s']} events/s, JSON Lines {e['jsonl_events_per_s']} events/s"
        )
    print(
        f"verify log ({v['events']} events): {v['verify_s']} s, {v['verify_events_per_s']} events/s"
        f" (1M ≈ {v['verify_1m_s']} s; goal < 20 s); sequencing {v['sequence_events_per_s']} events/s"
    )
    if "sweep" in by:
        sw = by["sweep"]
        print(
            f"retention sweep, {sw['images']} expired images + {sw['files']} files: {sw['images_per_s']} images/s ({sw['seconds']} s)"
        )
    print(f"load average at the end: {_loadavg()}")


if __name__ == "__main__":
    main()
