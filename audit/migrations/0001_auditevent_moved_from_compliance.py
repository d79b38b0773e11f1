"""AuditEvent moves from compliance to audit: state only (the table keeps its name), and the
content type row follows so admin links and permissions keep working."""

from django.db import migrations, models

MOVE_CONTENT_TYPE = """
UPDATE django_content_type SET app_label = 'audit'
WHERE app_label = 'compliance' AND model = 'auditevent'
  AND NOT EXISTS (SELECT 1 FROM django_content_type WHERE app_label = 'audit' AND model = 'auditevent')
"""
BACK = """
UPDATE django_content_type SET app_label = 'compliance'
WHERE app_label = 'audit' AND model = 'auditevent'
"""


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("compliance", "0006_audit_chain_head"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="AuditEvent",
                    fields=[
                        ("seq", models.BigAutoField(primary_key=True, serialize=False)),
                        ("created_at", models.DateTimeField()),
                        ("actor_id", models.BigIntegerField(blank=True, null=True)),
                        ("actor_label", models.CharField(blank=True, max_length=254)),
                        ("actor_role", models.CharField(blank=True, max_length=60)),
                        ("action", models.CharField(db_index=True, max_length=120)),
                        ("target_type", models.CharField(blank=True, max_length=120)),
                        ("target_id", models.CharField(blank=True, max_length=64)),
                        (
                            "organisation_id",
                            models.BigIntegerField(blank=True, db_index=True, null=True),
                        ),
                        ("outcome", models.CharField(max_length=40)),
                        ("ip", models.GenericIPAddressField(blank=True, null=True)),
                        ("details", models.JSONField(blank=True, default=dict)),
                        ("details_digest", models.CharField(max_length=64)),
                        ("redacted_at", models.DateTimeField(blank=True, null=True)),
                        ("prev_hash", models.CharField(max_length=64)),
                        ("row_hash", models.CharField(max_length=64, unique=True)),
                    ],
                    options={
                        "db_table": "compliance_auditevent",
                        "ordering": ["seq"],
                        "indexes": [
                            models.Index(
                                fields=["created_at"], name="compliance__created_6fff64_idx"
                            ),
                            models.Index(
                                fields=["target_type", "target_id"],
                                name="compliance__target__4a30ae_idx",
                            ),
                        ],
                    },
                )
            ],
            database_operations=[],
        ),
        migrations.RunSQL(MOVE_CONTENT_TYPE, BACK),
    ]
