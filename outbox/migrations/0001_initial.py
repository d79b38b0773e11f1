"""The outbox's model moves here from compliance; its table (compliance_outboundemail) stays."""

from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [("compliance", "0006_audit_chain_head")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="OutboundEmail",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("to", models.JSONField(default=list)),
                        ("subject", models.CharField(max_length=300)),
                        ("body", models.TextField()),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("attempts", models.PositiveIntegerField(default=0)),
                        ("last_error", models.CharField(blank=True, max_length=200)),
                    ],
                    options={"ordering": ["pk"], "db_table": "compliance_outboundemail"},
                ),
            ],
            database_operations=[],
        ),
    ]
