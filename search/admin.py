from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from search.models import Face, MonitoringAlert, SearchHit, SearchRequest, SourceImage


class NoEmbeddingAdmin(admin.ModelAdmin):
    """Biometric vectors are never shown or edited in admin, and personal data is never deleted
    here: deletion goes through an erasure request (audited, with a receipt) or the retention sweeps."""

    change_list_template = "admin/personal_data_change_list.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


@admin.register(SourceImage)
class SourceImageAdmin(NoEmbeddingAdmin):
    list_display = ["id", "source_label", "status", "jurisdiction", "first_seen", "last_seen"]
    list_filter = ["status", "jurisdiction", "source_label"]
    search_fields = ["sha256", "page_url", "image_url"]
    readonly_fields = ["file", "sha256", "perceptual_hash", "width", "height", "format", "byte_size", "created_at"]


@admin.register(Face)
class FaceAdmin(NoEmbeddingAdmin):
    list_display = ["id", "image", "model", "status", "jurisdiction", "created_at", "expires_at"]
    list_filter = ["status", "model", "jurisdiction"]
    exclude = ["embedding"]
    readonly_fields = ["image", "box_x", "box_y", "box_w", "box_h", "detection_score", "crop", "model", "detector", "created_at"]


@admin.register(SearchRequest)
class SearchRequestAdmin(NoEmbeddingAdmin):
    list_display = ["id", "organisation", "user", "case_reference", "lawful_basis", "status", "created_at"]
    list_filter = ["status", "lawful_basis", "organisation"]
    exclude = ["probe_embedding", "probe"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SearchHit)
class SearchHitAdmin(NoEmbeddingAdmin):
    list_display = ["search", "rank", "face", "distance", "confidence"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(MonitoringAlert)
class MonitoringAlertAdmin(NoEmbeddingAdmin):
    """Read-only: the DPO closes an alert on its evidence page, with a note, audited."""

    list_display = ["id", "status", "organisations", "max_case_references", "created_at", "updated_at", "closed_at"]
    list_filter = ["status"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
