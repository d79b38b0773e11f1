from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from accounts.services import organisation_create


class Command(BaseCommand):
    help = "Create a customer organisation and email an invitation to its first org admin."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--admin-email", required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        org = organisation_create(name=options["name"], admin_email=options["admin_email"])
        self.stdout.write(
            self.style.SUCCESS(
                f"Created {org.name} ({org.slug}); invitation sent to {options['admin_email']}."
            )
        )
        # The link itself is a secret and goes only by email; where it opens is the served address.
        self.stdout.write(f"The invitation link opens on {settings.SITE_URL.rstrip('/')}/")
