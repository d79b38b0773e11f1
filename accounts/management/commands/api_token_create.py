from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from accounts.selectors import membership_for
from accounts.services import api_token_create


class Command(BaseCommand):
    help = (
        "Create one more named API token for a member and print the key once: only its hash is stored, and "
        "it expires after API_TOKEN_VALID_DAYS. (DRF's drf_create_token makes tokens this site does not accept.)"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("--name", default="Command line", help="the token's name")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(email__iexact=options["email"].strip(), is_active=True).first()
        if user is None or membership_for(user=user) is None:
            raise CommandError("No active member of an active organisation has this address.")
        try:
            created = api_token_create(user=user, name=options["name"])
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(
            f"API token for {user.email} (shown once, valid until {created.token.expires_at:%Y-%m-%d}):"
        )
        self.stdout.write(created.key)
