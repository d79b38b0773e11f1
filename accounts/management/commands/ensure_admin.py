from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand

from accounts.services import admin_ensure


class Command(BaseCommand):
    help = (
        "Create the first admin if no superuser exists "
        "(DJANGO_ADMIN_EMAIL / DJANGO_ADMIN_PASSWORD, or a generated password printed once)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        email = os.environ.get("DJANGO_ADMIN_EMAIL", "admin@example.com")
        result = admin_ensure(email=email, password=os.environ.get("DJANGO_ADMIN_PASSWORD") or None)
        if not result.created:
            self.stdout.write(f"Admin exists: {result.user.email}")
            return
        self.stdout.write(self.style.SUCCESS(f"Created the first admin: {result.user.email}"))
        if result.password:
            self.stdout.write(
                self.style.WARNING(
                    f"Generated password (shown once, change it after logging in): {result.password}"
                )
            )
