"""Django admin's list of API tokens: read-only, and with no key to show (only its hash exists).

Registered from ``AccountsConfig.ready()`` (after admin autodiscovery) in place of DRF's own token
list, which would list an empty table now that tokens live in ``accounts.ApiToken``. Kept apart from
``accounts/admin.py`` so the two can be merged into one module later without a conflict.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.utils import timezone

from accounts.models import ApiToken
from audit.admin_audit import ReadOnlyAdmin


class ApiTokenAdmin(ReadOnlyAdmin):
    list_display = ["user", "name", "created_at", "expires_at", "last_used_at", "expired"]
    list_filter = ["created_at", "expires_at"]
    search_fields = ["user__email", "name"]
    ordering = ["user__email"]
    fields = ["user", "name", "created_at", "expires_at", "last_used_at"]
    readonly_fields = ["user", "name", "created_at", "expires_at", "last_used_at"]
    list_display_links = None  # nothing more to open: the key itself is not stored

    @admin.display(boolean=True, description="Expired")
    def expired(self, obj: Any) -> bool:
        return bool(obj.expires_at <= timezone.now())


def register(site: admin.AdminSite = admin.site) -> None:
    from rest_framework.authtoken.models import TokenProxy

    if site.is_registered(TokenProxy):
        site.unregister(TokenProxy)
    if not site.is_registered(ApiToken):
        site.register(ApiToken, ApiTokenAdmin)
