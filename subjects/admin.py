"""Subject requests, erasure receipts and the suppression list: read-only in admin.

They are worked on the DPO's request pages, where every step is audited and the clock is kept.
"""

from __future__ import annotations

from django.contrib import admin

from compliance.admin import ReadOnlyAdmin
from subjects.models import ErasureReceipt, SubjectRequest, Suppression


@admin.register(SubjectRequest)
class SubjectRequestAdmin(ReadOnlyAdmin):
    list_display = ["reference", "type", "status", "received_at", "due_date", "extended", "completed_at"]
    list_filter = ["type", "status", "extended"]
    search_fields = ["reference"]
    date_hierarchy = "received_at"
    # Secrets and biometric data never appear in admin.
    exclude = ["status_token_hash", "template"]


@admin.register(ErasureReceipt)
class ErasureReceiptAdmin(ReadOnlyAdmin):
    list_display = ["request", "created_at", "verified_clean"]
    list_filter = ["verified_clean"]


@admin.register(Suppression)
class SuppressionAdmin(ReadOnlyAdmin):
    """Objectors' entries: hashes only; a consented face template is never shown."""

    list_display = ["kind", "short_hash", "model", "request_reference", "created_at"]
    list_filter = ["kind"]
    search_fields = ["request_reference"]
    exclude = ["template"]

    @admin.display(description="SHA-256")
    def short_hash(self, obj: Suppression) -> str:
        return f"{obj.value_sha256[:12]}…"
