"""Staff groups and exactly the permissions each holds (kept in sync after every migrate)."""

from __future__ import annotations

from typing import Any

STAFF_GROUP_PERMISSIONS: dict[str, list[str]] = {
    "dpo": [
        "dpo_access",
        "work_subject_requests",
        "approve_sources",
        "manage_retention",
        "run_jurisdiction_sweeps",
        "view_audit_log",
        "view_reports",
    ],
    "auditor": ["auditor_access", "view_audit_log", "export_audit_log", "view_reports"],
}


def staff_groups_sync(**kwargs: Any) -> None:
    """post_migrate: make the groups hold exactly their permissions (also after a test flush)."""
    from django.contrib.auth.models import Group, Permission
    from django.contrib.contenttypes.models import ContentType

    from accounts.models import StaffPermissions

    ct = ContentType.objects.get_for_model(StaffPermissions, for_concrete_model=False)
    labels = dict(StaffPermissions._meta.permissions)
    for group_name, codenames in STAFF_GROUP_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        perms = [
            Permission.objects.get_or_create(content_type=ct, codename=c, defaults={"name": labels[c]})[0] for c in codenames
        ]
        group.permissions.set(perms)
