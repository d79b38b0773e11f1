"""OutboundEmail now belongs to the outbox app (state only: the table and its rows stay)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("compliance", "0006_audit_chain_head"),
        ("outbox", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="OutboundEmail")],
            database_operations=[],
        ),
    ]
