from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from compliance.models import AuditEvent, Dpia, LegalHold, RetentionPolicy, SweepReceipt


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records that only services write (audited): admins may read them, never add, change or delete."""

    actions = None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Read-only: the audit log is append-only and written only by ``audit_record``."""

    list_display = ["seq", "created_at", "actor_label", "action", "target_type", "target_id", "outcome"]
    list_filter = ["outcome", "action"]
    search_fields = ["action", "actor_label", "target_id"]


@admin.register(Dpia)
class DpiaAdmin(admin.ModelAdmin):
    list_display = ["reference", "title", "status", "approved_at", "review_due"]
    list_filter = ["status"]
    search_fields = ["reference", "title"]


@admin.register(RetentionPolicy)
class RetentionPolicyAdmin(admin.ModelAdmin):
    """Edits go through the DPO's retention page (validated, audited with before/after); admin only reads."""

    list_display = ["data_class", "period_days", "action", "updated_at", "updated_by"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(LegalHold)
class LegalHoldAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "scope",
        "organisation",
        "source_label",
        "face_id_held",
        "request_reference",
        "created_at",
        "released_at",
    ]
    list_filter = ["scope"]
    actions = None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Holds are released on the DPO's page (audited); deleting one would hide that it existed.
        return False


@admin.register(SweepReceipt)
class SweepReceiptAdmin(AuditEventAdmin):
    list_display = ["started_at", "kind", "data_class", "action", "affected", "files_deleted", "held"]
    list_filter = ["kind", "data_class"]
    search_fields = ["data_class"]
