"""Subject requests, candidates, access packages, erasure receipts and the suppression list: view only in admin.

They are worked on the DPO's request pages, where every step is audited and the clock is kept.
Secrets (token hashes), face templates and package files are never rendered.
"""

from __future__ import annotations

from django.contrib import admin

from audit.admin_audit import PersonalDataAdmin
from subjects.models import AccessPackage, Candidate, ErasureReceipt, SubjectRequest


@admin.register(SubjectRequest)
class SubjectRequestAdmin(PersonalDataAdmin):
    list_display = [
        "reference",
        "type",
        "status",
        "received_at",
        "due_date",
        "extended",
        "completed_at",
    ]
    list_filter = ["type", "status", "extended"]
    search_fields = ["reference"]
    date_hierarchy = "received_at"


@admin.register(Candidate)
class CandidateAdmin(PersonalDataAdmin):
    list_display = ["request", "face_ref", "found_by", "status", "borderline"]
    list_filter = ["status", "found_by"]


@admin.register(AccessPackage)
class AccessPackageAdmin(PersonalDataAdmin):
    list_display = ["request", "created_at", "expires_at", "downloads", "deleted_at"]


@admin.register(ErasureReceipt)
class ErasureReceiptAdmin(PersonalDataAdmin):
    list_display = ["request", "created_at", "verified_clean"]
    list_filter = ["verified_clean"]
