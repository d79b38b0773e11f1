from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from crawling import services
from crawling.models import Art6Basis, Art9Condition


class Command(BaseCommand):
    help = "Register a crawl source (proposed until a DPO approves it; --approve-as EMAIL approves it as that DPO)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--scope", action="append", required=True, help="URL prefix; repeat for several")
        parser.add_argument("--jurisdiction", action="append", required=True, help="ISO 3166 code; repeat for several")
        parser.add_argument("--lawful-basis", required=True, choices=Art6Basis.values)
        parser.add_argument("--art9", required=True, choices=Art9Condition.values)
        parser.add_argument("--dpia", required=True, help="DPIA reference")
        parser.add_argument("--rate", type=float, default=1.0, help="requests per second per host")
        parser.add_argument("--page-limit", type=int, default=500)
        parser.add_argument("--max-depth", type=int, default=3)
        parser.add_argument("--approve-as", help="email of a DPO who approves the source now")

    def handle(self, *args: Any, **options: Any) -> None:
        dpo = None
        if options["approve_as"]:
            dpo = User.objects.filter(email__iexact=options["approve_as"], is_active=True).first()
            if dpo is None or not dpo.has_perm("accounts.approve_sources"):
                raise CommandError(f"{options['approve_as']} is not an active data-protection officer.")
        try:
            source = services.source_add(
                name=options["name"], scope=options["scope"], jurisdictions=options["jurisdiction"],
                lawful_basis=options["lawful_basis"], art9_condition=options["art9"], dpia_reference=options["dpia"],
                crawl_rate=options["rate"], page_limit=options["page_limit"], max_depth=options["max_depth"],
            )  # fmt: skip
            if dpo is not None:
                source = services.source_approve(source=source, actor=dpo)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(json.dumps({"source": source.name, "id": source.pk, "status": source.status}))
