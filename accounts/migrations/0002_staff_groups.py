"""Staff groups ``dpo`` and ``auditor`` with exactly the permissions they need."""

from django.db import migrations

GROUPS = {
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
LABELS = {
    "dpo_access": "Use the data-protection officer's pages",
    "auditor_access": "Use the auditor's read-only pages",
    "work_subject_requests": "Work data-subject requests",
    "approve_sources": "Approve and suspend crawl sources",
    "manage_retention": "Set retention policies and legal holds",
    "run_jurisdiction_sweeps": "Run jurisdiction sweeps",
    "view_audit_log": "Read the audit log and verify its chain",
    "export_audit_log": "Export the audit log",
    "view_reports": "Read compliance reports and the Art 30 record",
}


def create_groups(apps, schema_editor):
    # Permissions are normally created after migrations (post_migrate); create these here
    # so that the groups can hold them in this same migration.
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    ct, _ = ContentType.objects.get_or_create(app_label="accounts", model="staffpermissions")
    perms = {}
    for codename, name in LABELS.items():
        perms[codename], _ = Permission.objects.get_or_create(content_type=ct, codename=codename, defaults={"name": name})
    for group_name, codenames in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        group.permissions.set([perms[c] for c in codenames])


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(create_groups, remove_groups)]
