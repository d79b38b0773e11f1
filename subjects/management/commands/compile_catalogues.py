"""``manage.py compile_catalogues``: compile locale/*.po to .mo with polib (no GNU gettext needed)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from config.i18n import BASE_DIR, compile_catalogues


class Command(BaseCommand):
    help = "Compile the gettext catalogues under locale/ with polib (works without GNU gettext)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force", action="store_true", help="recompile even when the .mo is newer than the .po"
        )

    def handle(self, *args: Any, force: bool = False, **options: Any) -> None:
        written = compile_catalogues(force=force)
        for path in written:
            self.stdout.write(f"compiled {path.relative_to(BASE_DIR)}")
        self.stdout.write(f"{len(written)} catalogue(s) compiled")
