from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from crawling import services
from crawling.models import Source


class Command(BaseCommand):
    help = "Approve a registered source as a data-protection officer (the same, audited, step as on /sources/)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True, help="source name")
        parser.add_argument(
            "--as", dest="approve_as", required=True, help="email of the approving DPO"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        source = Source.objects.filter(name=options["name"].strip()).first()
        if source is None:
            raise CommandError(f"No source named {options['name']!r}; register it with source_add.")
        dpo = User.objects.filter(email__iexact=options["approve_as"], is_active=True).first()
        if dpo is None or not dpo.has_perm("accounts.approve_sources"):
            raise CommandError(f"{options['approve_as']} is not an active data-protection officer.")
        try:
            source = services.source_approve(source=source, actor=dpo)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(
            json.dumps(
                {
                    "source": source.name,
                    "id": source.pk,
                    "kind": source.kind,
                    "status": source.status,
                }
            )
        )
