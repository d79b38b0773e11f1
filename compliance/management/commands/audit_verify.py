from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand

from compliance.selectors import audit_chain_verify


class Command(BaseCommand):
    help = "Verify the audit log's hash chain and its anchors; exit 0 when intact, 1 otherwise."

    def handle(self, *args: Any, **options: Any) -> None:
        report = audit_chain_verify()
        if report.ok:
            self.stdout.write(
                json.dumps(
                    {
                        "ok": True,
                        "events": report.count,
                        "last_seq": report.last_seq,
                        "last_hash": report.last_hash,
                        "anchors_checked": report.anchors_checked,
                    }
                )
            )
            return
        self.stderr.write(
            f"Audit chain BROKEN at row #{report.broken_seq}: {report.reason} ({report.count} rows verified before it)."
        )
        sys.exit(1)
