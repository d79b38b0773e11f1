from __future__ import annotations

from typing import Any

from allauth.mfa.models import Authenticator
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db import transaction
from django.http import HttpRequest

from accounts.models import Invitation, Membership, Organisation, User
from accounts.selectors import user_requires_mfa
from accounts.services import api_tokens_revoke_on_change, organisation_set_active
from accounts.staff import staff_email_mark_verified
from audit.admin_audit import AuditedAdminMixin, AuditedModelAdmin
from config.http import client_ip


def _staff(request: HttpRequest) -> User | None:
    """The staff member acting in the admin (the admin site lets only logged-in staff in)."""
    return request.user if isinstance(request.user, User) else None


@admin.register(User)
class UserAdmin(AuditedAdminMixin, BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "name", "is_active", "is_staff", "last_login"]
    search_fields = ["email", "name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("name",)}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        was = (
            User.objects.filter(pk=obj.pk).values("is_active", "is_staff", "is_superuser").first()
            if change
            else None
        )
        super().save_model(request, obj, form, change)
        if was is None:
            return
        if was["is_active"] and not obj.is_active:
            api_tokens_revoke_on_change(
                user=obj, reason="deactivated", actor=_staff(request), ip=client_ip(request)
            )
        elif (was["is_staff"], was["is_superuser"]) != (obj.is_staff, obj.is_superuser):
            api_tokens_revoke_on_change(
                user=obj, reason="role_changed", actor=_staff(request), ip=client_ip(request)
            )

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # Groups are saved here, after the user. Staff are made by an admin, not by signup:
        # their address counts as verified, so they can log in (and enrol MFA) at once.
        before = set(form.instance.groups.values_list("pk", flat=True)) if change else set()
        with transaction.atomic():
            super().save_related(request, form, formsets, change)
            user = form.instance
            if change and set(user.groups.values_list("pk", flat=True)) != before:
                api_tokens_revoke_on_change(
                    user=user, reason="role_changed", actor=_staff(request), ip=client_ip(request)
                )
            if user.is_active and user_requires_mfa(user=user):
                staff_email_mark_verified(user=user, actor=request.user, ip=client_ip(request))


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Organisation)
class OrganisationAdmin(AuditedModelAdmin):
    list_display = ["name", "slug", "is_active", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ["created_at"]
    inlines = [MembershipInline]

    def save_model(self, request: HttpRequest, obj: Organisation, form: Any, change: bool) -> None:
        """Switching an organisation off or on goes through the service: audited, its invitations and
        members' API tokens revoked, as ``organisation_deactivate`` does."""
        if not change or "is_active" not in form.changed_data:
            super().save_model(request, obj, form, change)
            return
        wanted = obj.is_active
        obj.is_active = not wanted
        super().save_model(request, obj, form, change)
        organisation_set_active(
            organisation=obj, active=wanted, actor=_staff(request), ip=client_ip(request)
        )
        obj.is_active = wanted

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """A membership removed or re-roled here revokes that user's API token, as the org admin's pages do."""
        if formset.model is not Membership:
            super().save_formset(request, form, formset, change)
            return
        roles = (
            dict(
                Membership.objects.filter(organisation=form.instance.pk).values_list(
                    "user_id", "role"
                )
            )
            if change
            else {}
        )
        super().save_formset(request, form, formset, change)
        now = dict(
            Membership.objects.filter(organisation=form.instance.pk).values_list("user_id", "role")
        )
        actor, ip = _staff(request), client_ip(request)
        for user_id, role in roles.items():
            if user_id not in now or now[user_id] != role:
                reason = "removed_from_organisation" if user_id not in now else "role_changed"
                api_tokens_revoke_on_change(
                    user=User.objects.get(pk=user_id), reason=reason, actor=actor, ip=ip
                )


@admin.register(Invitation)
class InvitationAdmin(AuditedModelAdmin):
    list_display = ["email", "organisation", "role", "status", "expires_at"]
    list_filter = ["status", "role"]
    search_fields = ["email"]
    exclude = ["token_hash"]
    readonly_fields = ["accepted_at", "accepted_by"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # An invitation is sent from the organisation's members page (a link only its holder gets).
        return False


admin.site.unregister(Authenticator)


@admin.register(Authenticator)
class AuthenticatorAdmin(AuditedModelAdmin):
    """A staff member's MFA authenticators: listed, and deleted to reset a lost one (audited).
    Their secrets and recovery codes (``data``) are never shown, and none is added or edited here."""

    raw_id_fields = ["user"]
    list_display = ["user", "type", "created_at", "last_used_at"]
    list_filter = ["type", "created_at", "last_used_at"]
    fields = ["user", "type", "created_at", "last_used_at"]
    readonly_fields = ["user", "type", "created_at", "last_used_at"]
    audit_redacted_fields = frozenset({"data"})

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
