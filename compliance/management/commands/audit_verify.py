from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from compliance.selectors import audit_chain_verify


def _held_notes(locations: list[str], files: list[str]) -> list[tuple[str, str]]:
    """Checkpoints held outside the database: stores (directory, s3://…, or "store" for
    AUDIT_CHECKPOINT_STORE) and single note files."""
    from audit.witness import checkpoint_store, store_for

    notes: list[tuple[str, str]] = []
    for location in locations:
        store = checkpoint_store() if location == "store" else store_for(location)
        if store is None:
            raise CommandError("--trusted store: AUDIT_CHECKPOINT_STORE is not set.")
        if location != "store" and "://" not in location and not Path(location).is_dir():
            raise CommandError(f"--trusted {location}: no such directory.")
        found = list(store.notes())
        if not found:
            raise CommandError(f"--trusted {location}: no checkpoint (*.note) there.")
        notes += found
    for name in files:
        try:
            notes.append((name, Path(name).read_text(encoding="utf-8")))
        except OSError as exc:
            raise CommandError(f"--trusted-checkpoint {name}: {exc.strerror}") from None
    return notes


class Command(BaseCommand):
    help = (
        "Verify the audit log: every leaf, the tree against every signed checkpoint, the"
        " anchors, and with --trusted the checkpoints held outside the database; exit 0 when"
        " intact, 1 otherwise."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--trusted",
            action="append",
            default=[],
            metavar="DIR|s3://BUCKET/PREFIX|store",
            help="checkpoints published earlier (store = AUDIT_CHECKPOINT_STORE); repeatable",
        )
        parser.add_argument(
            "--trusted-checkpoint",
            action="append",
            default=[],
            metavar="NOTE_FILE",
            help="one signed checkpoint held earlier; repeatable",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        held = _held_notes(options["trusted"], options["trusted_checkpoint"])
        report = audit_chain_verify()
        if not report.ok:
            self.stderr.write(
                f"Audit log BROKEN at row #{report.broken_seq}: {report.reason} ({report.count} rows checked before it)."
            )
            sys.exit(1)
        summary: dict[str, Any] = {
            "ok": True,
            "events": report.count,
            "last_seq": report.last_seq,
            "tree_size": report.tree_size,
            "root": report.last_hash,
            "pending": report.pending,
            "checkpoints_checked": report.checkpoints_checked,
            "anchors_checked": report.anchors_checked,
        }
        if held:
            from audit.witness import checkpoints_check

            trusted = checkpoints_check(held)
            if not trusted.ok:
                self.stderr.write(
                    f"Audit log does NOT extend a checkpoint held outside the database: "
                    f"{trusted.fault} ({trusted.checked} held checkpoints matched before it)."
                )
                sys.exit(1)
            summary["trusted_checkpoints"] = trusted.checked
        self.stdout.write(json.dumps(summary))
