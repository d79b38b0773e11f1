from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from crawling import services
from crawling.models import Art6Basis, Art9Condition, Source


class Command(BaseCommand):
    help = (
        "Register a source: a web site to crawl (--scope URL…) or, with --local, a collection of files you hold, "
        "for import_images. It is proposed until a DPO approves it (--approve-as EMAIL approves it as that DPO). "
        "--update changes a registered source instead: a change to what the DPO approved sends it back for approval."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument(
            "--scope",
            action="append",
            default=[],
            help="URL prefix; repeat for several (web sources)",
        )
        parser.add_argument(
            "--local",
            action="store_true",
            help="a local source: photos are imported with import_images, not crawled",
        )
        parser.add_argument(
            "--jurisdiction",
            action="append",
            required=True,
            help="ISO 3166 code; repeat for several",
        )
        parser.add_argument("--lawful-basis", required=True, choices=Art6Basis.values)
        parser.add_argument("--art9", required=True, choices=Art9Condition.values)
        parser.add_argument("--dpia", required=True, help="DPIA reference")
        parser.add_argument("--rate", type=float, default=1.0, help="requests per second per host")
        parser.add_argument("--page-limit", type=int, default=500)
        parser.add_argument("--max-depth", type=int, default=3)
        parser.add_argument("--approve-as", help="email of a DPO who approves the source now")
        parser.add_argument(
            "--update",
            action="store_true",
            help="change the registered source of this name (it goes back for approval)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        dpo = None
        if options["approve_as"]:
            dpo = User.objects.filter(email__iexact=options["approve_as"], is_active=True).first()
            if dpo is None or not dpo.has_perm("accounts.approve_sources"):
                raise CommandError(
                    f"{options['approve_as']} is not an active data-protection officer."
                )
        values = {
            "name": options["name"],
            "scope": options["scope"],
            "jurisdictions": options["jurisdiction"],
            "lawful_basis": options["lawful_basis"],
            "art9_condition": options["art9"],
            "dpia_reference": options["dpia"],
            "crawl_rate": options["rate"],
            "page_limit": options["page_limit"],
            "max_depth": options["max_depth"],
            "kind": Source.Kind.LOCAL if options["local"] else Source.Kind.WEB,
        }
        existing = Source.objects.filter(name=options["name"].strip()).first()
        try:
            if options["update"]:
                if existing is None:
                    raise CommandError(
                        f"No source named {options['name']!r}; register it without --update."
                    )
                source = services.source_update(source=existing, changes=values, actor=dpo)
            elif existing is not None:
                hint = "pass --update to change it (it goes back for approval)"
                raise CommandError(f"A source named {options['name']!r} exists; {hint}.")
            else:
                source = services.source_add(**values)
            if dpo is not None:
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
