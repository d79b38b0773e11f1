"""Faces, photos, searches and their hits: view only in admin.

Their status, jurisdiction and expiry change only through search's services (restriction and its
lifting, erasure, objection, the sweeps), which keep the DPO's workflow, the person's notice and the
audit. Embeddings, crops, probes, thumbnails and photo files are never rendered here.
"""

from __future__ import annotations

from django.contrib import admin

from audit.admin_audit import PersonalDataAdmin
from search.models import (
    Face,
    MonitoringAlert,
    ProbeFace,
    SearchHit,
    SearchRequest,
    SourceImage,
    Suppression,
)


@admin.register(SourceImage)
class SourceImageAdmin(PersonalDataAdmin):
    list_display = ["id", "source_label", "status", "jurisdiction", "first_seen", "last_seen"]
    list_filter = ["status", "jurisdiction", "source_label"]
    search_fields = ["sha256", "page_url", "image_url"]


@admin.register(Face)
class FaceAdmin(PersonalDataAdmin):
    list_display = ["id", "image", "model", "status", "jurisdiction", "created_at", "expires_at"]
    list_filter = ["status", "model", "jurisdiction"]


@admin.register(SearchRequest)
class SearchRequestAdmin(PersonalDataAdmin):
    list_display = [
        "id",
        "organisation",
        "user",
        "case_reference",
        "lawful_basis",
        "status",
        "created_at",
    ]
    list_filter = ["status", "lawful_basis", "organisation"]


@admin.register(ProbeFace)
class ProbeFaceAdmin(PersonalDataAdmin):
    list_display = ["id", "search", "index"]


@admin.register(SearchHit)
class SearchHitAdmin(PersonalDataAdmin):
    list_display = ["search", "rank", "face", "distance", "confidence"]


@admin.register(MonitoringAlert)
class MonitoringAlertAdmin(PersonalDataAdmin):
    """The DPO closes an alert on its evidence page, with a note, audited."""

    list_display = [
        "id",
        "status",
        "organisations",
        "max_case_references",
        "created_at",
        "updated_at",
        "closed_at",
    ]
    list_filter = ["status"]


@admin.register(Suppression)
class SuppressionAdmin(PersonalDataAdmin):
    """Objectors' entries: hashes only; a consented face template is never shown."""

    list_display = ["kind", "short_hash", "model", "request_reference", "created_at"]
    list_filter = ["kind"]
    search_fields = ["request_reference"]

    @admin.display(description="SHA-256")
    def short_hash(self, obj: Suppression) -> str:
        return f"{obj.value_sha256[:12]}…"
