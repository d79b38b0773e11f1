from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Organisation
from accounts.services import organisation_set_active


class Command(BaseCommand):
    help = (
        "Deactivate a customer organisation (its members are logged out, its API tokens and pending "
        "invitations revoked, its queued searches never run), or reactivate it with --reactivate. Audited."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--reactivate", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        org = Organisation.objects.filter(slug=options["slug"]).first()
        if org is None:
            raise CommandError(f"No organisation with the slug {options['slug']!r}.")
        active = bool(options["reactivate"])
        org = organisation_set_active(organisation=org, active=active, actor=None)
        self.stdout.write(
            self.style.SUCCESS(f"{org.name} is {'active' if org.is_active else 'deactivated'}.")
        )
