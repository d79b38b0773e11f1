"""Audit log benchmark: append rate (1 and 4 writers) with the chain, against a plain insert,
and verification rate. Runs in a throwaway database on the configured server.

    .venv/bin/python bench/audit.py [--events 5000] [--verify-events 50000]
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=5000, help="events per append run")
    parser.add_argument("--verify-events", type=int, default=50000, help="chain length to verify")
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

        have = AuditEvent.objects.count()
        for i in range(max(0, args.verify_events - have)):
            with transaction.atomic():
                audit_record(actor=None, action="bench.fill", target="bench", outcome="success", details={"i": i})
        start = time.perf_counter()
        report = audit_chain_verify()
        verify_rate = report.count / (time.perf_counter() - start)
        assert report.ok, report

        print(f"append, plain insert (peer):   {plain:8.0f} events/s")
        print(f"append, chained, 1 writer:     {single:8.0f} events/s  ({single / plain:.2f}x plain)")
        print(f"append, chained, 4 writers:    {four:8.0f} events/s  ({four / single:.2f}x one writer)")
        print(f"verify chain ({report.count} events): {verify_rate:8.0f} events/s (1M events ≈ {1_000_000 / verify_rate:.0f} s)")
    finally:
        connection.creation.destroy_test_db("bench_audit", verbosity=0)


if __name__ == "__main__":
    main()
