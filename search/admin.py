from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from search.models import Face, SearchHit, SearchRequest, SourceImage


class NoEmbeddingAdmin(admin.ModelAdmin):
    """Biometric vectors are never shown or edited in admin."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


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
