from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from compliance.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the audit log is append-only and written only by ``audit_record``."""

    list_display = ["seq", "created_at", "actor_label", "action", "target_type", "target_id", "outcome"]
    list_filter = ["outcome", "action"]
    search_fields = ["action", "actor_label", "target_id"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
