from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.staff import STAFF_CREATE_GROUPS, staff_create


class Command(BaseCommand):
    help = (
        "Create a DPO or auditor account with a verified email address and print a link "
        "where they set their password (then they enrol two-factor authentication on first login)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("--group", required=True, choices=STAFF_CREATE_GROUPS)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            created = staff_create(email=options["email"], group=options["group"])
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(self.style.SUCCESS(f"Created {options['group']} {created.user.email}."))
        self.stdout.write("Send them this link to set their password (it works once):")
        self.stdout.write(created.set_password_url)
