from __future__ import annotations

from django.contrib import admin

from compliance.admin_audit import AuditedModelAdmin, PersonalDataAdmin, ReadOnlyAdmin
from compliance.models import AuditEvent, Dpia, LegalHold, RetentionPolicy, SweepReceipt

__all__ = ["AuditedModelAdmin", "PersonalDataAdmin", "ReadOnlyAdmin"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Read-only: the audit log is append-only and written only by ``audit_record``."""

    list_display = [
        "seq",
        "created_at",
        "actor_label",
        "action",
        "target_type",
        "target_id",
        "outcome",
    ]
    list_filter = ["outcome", "action"]
    search_fields = ["action", "actor_label", "target_id"]


@admin.register(Dpia)
class DpiaAdmin(AuditedModelAdmin):
    list_display = ["reference", "title", "status", "approved_at", "review_due"]
    list_filter = ["status"]
    search_fields = ["reference", "title"]


@admin.register(RetentionPolicy)
class RetentionPolicyAdmin(ReadOnlyAdmin):
    """Edits go through the DPO's retention page (validated, audited with before/after); admin only reads."""

    list_display = ["data_class", "period_days", "action", "updated_at", "updated_by"]


@admin.register(LegalHold)
class LegalHoldAdmin(ReadOnlyAdmin):
    """Holds are placed and released on the DPO's page (audited); deleting one would hide that it existed."""

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


@admin.register(SweepReceipt)
class SweepReceiptAdmin(AuditEventAdmin):
    list_display = [
        "started_at",
        "kind",
        "data_class",
        "action",
        "affected",
        "files_deleted",
        "held",
    ]
    list_filter = ["kind", "data_class"]
    search_fields = ["data_class"]
