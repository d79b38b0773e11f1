from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db import transaction
from django.http import HttpRequest
from rest_framework.authtoken.models import TokenProxy

from accounts.adapters import client_ip
from accounts.models import Invitation, Membership, Organisation, User
from accounts.selectors import user_requires_mfa
from accounts.staff import staff_email_mark_verified


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "name", "is_active", "is_staff", "last_login"]
    search_fields = ["email", "name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("name",)}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # Groups are saved here, after the user. Staff are made by an admin, not by signup:
        # their address counts as verified, so they can log in (and enrol MFA) at once.
        with transaction.atomic():
            super().save_related(request, form, formsets, change)
            user = form.instance
            if user.is_active and user_requires_mfa(user=user):
                staff_email_mark_verified(user=user, actor=request.user, ip=client_ip(request))


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "is_active", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ["created_at"]
    inlines = [MembershipInline]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "organisation", "role", "status", "expires_at"]
    list_filter = ["status", "role"]
    search_fields = ["email"]
    readonly_fields = ["token_hash", "accepted_at", "accepted_by"]


admin.site.unregister(TokenProxy)


@admin.register(TokenProxy)
class MaskedTokenAdmin(admin.ModelAdmin):
    """API tokens, key masked. Tokens are made and revoked by their owner (API token page) and
    revoked when a user is deactivated; admin only lists them."""

    list_display = ["masked_key", "user", "created"]
    list_filter = ["created"]
    search_fields = ["user__email"]
    ordering = ["user__email"]
    fields = ["masked_key", "user", "created"]
    readonly_fields = ["masked_key", "user", "created"]
    actions = None
    # The token's primary key is the key itself: no links, so it never appears in a URL.
    list_display_links = None

    @admin.display(description="Key")
    def masked_key(self, obj: Any) -> str:
        return f"{obj.key[:4]}…" if obj.key else ""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
