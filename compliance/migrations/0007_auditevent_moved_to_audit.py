"""AuditEvent now lives in the audit app (same table); the chain head is gone: writers no longer
share a row (the transparency log's sequencer numbers the leaves instead)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("compliance", "0006_audit_chain_head"),
        ("audit", "0001_auditevent_moved_from_compliance"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="AuditEvent")],
            database_operations=[],
        ),
        migrations.DeleteModel(name="AuditChainHead"),
    ]
