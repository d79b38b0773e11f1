from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_datetime

from compliance.exports import FORMATS, audit_export_lines
from compliance.selectors import AuditFilters
from compliance.services import audit_record


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        raise CommandError(f"Not a date-time: {value!r} (use ISO 8601, e.g. 2026-11-01T00:00:00Z)")
    return parsed


class Command(BaseCommand):
    help = "Stream the audit log as CSV or JSON Lines to stdout or --output; the export is audited."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=sorted(FORMATS), default="jsonl")
        parser.add_argument("--output", help="file to write (default: stdout)")
        parser.add_argument("--since")
        parser.add_argument("--until")
        parser.add_argument("--actor")
        parser.add_argument("--action")
        parser.add_argument("--organisation", type=int)
        parser.add_argument("--target")

    def handle(self, *args: Any, **options: Any) -> None:
        filters = AuditFilters(
            since=_when(options["since"]),
            until=_when(options["until"]),
            actor=options["actor"],
            action=options["action"],
            organisation_id=options["organisation"],
            target=options["target"],
        )
        audit_record(
            actor=None,
            action="compliance.audit_log.exported",
            target="compliance.auditevent",
            outcome="success",
            details={
                "format": options["format"],
                "via": "command",
                "filters": {k: str(v) for k, v in vars(filters).items() if v},
            },
        )
        out = (
            open(options["output"], "w", encoding="utf-8", newline="")  # noqa: SIM115 (closed below)
            if options["output"]
            else sys.stdout
        )
        try:
            for chunk in audit_export_lines(filters=filters, fmt=options["format"]):
                out.write(chunk)
        finally:
            if out is not sys.stdout:
                out.close()
