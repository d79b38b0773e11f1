from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from crawling.models import CrawlJob, Source


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    """Approval and suspension go through the DPO's page (audited, gated); admin edits the rest."""

    list_display = ["name", "kind", "status", "lawful_basis", "art9_condition", "dpia_reference", "approved_at"]
    list_filter = ["kind", "status", "lawful_basis"]
    readonly_fields = ["status", "status_reason", "approved_by", "approved_at", "created_at"]
    actions = None

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A source is suspended on the DPO's page, never deleted: its record of lawfulness stays.
        return False


@admin.register(CrawlJob)
class CrawlJobAdmin(admin.ModelAdmin):
    list_display = ["id", "source", "status", "pages", "images_seen", "stored", "created_at", "finished_at"]
    list_filter = ["status"]
    actions = None

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
