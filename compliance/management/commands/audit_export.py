from __future__ import annotations

import itertools
import json
import sys
from datetime import datetime
from pathlib import Path
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


def bundle_write(directory: Path) -> dict[str, int]:
    """Write an offline-verifiable bundle (docs/operations.md) of every checkpointed leaf.

    ``events.jsonl`` (leaf data in leaf_index order, up to the latest checkpoint),
    ``checkpoints/<size>.note`` (every checkpoint), ``key.vkey`` and ``consistency.json`` (RFC 9162
    proofs between consecutive checkpoints). Leaves below a checkpoint never change, so no snapshot
    is needed: a checkpoint signed while this runs is simply not in the bundle.
    """
    from audit import tlog
    from audit.leaves import LEAF_COLUMNS, leaf_from_row
    from audit.models import AuditEvent, Checkpoint
    from audit.signing import verifier_key

    if directory.exists() and any(directory.iterdir()):
        raise CommandError(f"{directory} is not empty: give a new directory for the bundle.")
    checkpoints = list(Checkpoint.objects.order_by("tree_size").values_list("tree_size", "note"))
    if not checkpoints:
        raise CommandError("No checkpoint yet: run the sequencer first.")
    size = checkpoints[-1][0]
    (directory / "checkpoints").mkdir(parents=True, exist_ok=True)
    rows = (
        AuditEvent.objects.filter(leaf_index__lt=size)
        .order_by("leaf_index")
        .values_list("leaf_index", *LEAF_COLUMNS)
        .iterator(chunk_size=5000)
    )
    count = 0
    with (directory / "events.jsonl").open("w", encoding="utf-8") as out:
        for row in rows:
            line = {"leaf_index": row[0], "leaf": leaf_from_row(row[1:])}
            out.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
            count += 1
    if count != size:
        raise CommandError(
            f"The log holds {count} leaves below checkpoint {size}: run audit_verify."
        )
    for tree_size, note in checkpoints:
        (directory / "checkpoints" / f"{tree_size}.note").write_text(note, encoding="utf-8")
    (directory / "key.vkey").write_text(verifier_key() + "\n", encoding="utf-8")
    sizes = [s for s, _ in checkpoints]
    proofs = [tlog.consistency(m, n) for m, n in itertools.pairwise(sizes)]
    (directory / "consistency.json").write_text(json.dumps(proofs, indent=1), encoding="utf-8")
    return {"events": count, "checkpoints": len(checkpoints), "tree_size": size}


class Command(BaseCommand):
    help = (
        "Stream the audit log as CSV or JSON Lines to stdout or --output, or write an offline-"
        "verifiable bundle with --bundle DIR (tools/tlog_verify.py); every export is audited."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=sorted(FORMATS), default="jsonl")
        parser.add_argument("--output", help="file to write (default: stdout)")
        parser.add_argument("--since")
        parser.add_argument("--until")
        parser.add_argument("--actor")
        parser.add_argument("--action")
        parser.add_argument("--organisation", type=int)
        parser.add_argument("--target")
        parser.add_argument(
            "--bundle",
            metavar="DIR",
            help="write the leaves, checkpoints, key and consistency proofs to DIR (a new folder)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["bundle"]:
            self._bundle(Path(options["bundle"]))
            return
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

    def _bundle(self, directory: Path) -> None:
        audit_record(
            actor=None,
            action="compliance.audit_log.exported",
            target="compliance.auditevent",
            outcome="success",
            details={"format": "bundle", "via": "command"},
        )
        summary = bundle_write(directory)
        self.stdout.write(
            f"Bundle in {directory}: {summary['events']} events, {summary['checkpoints']} "
            f"checkpoints up to tree size {summary['tree_size']}. "
            f"Check it with: python tools/tlog_verify.py {directory}"
        )
