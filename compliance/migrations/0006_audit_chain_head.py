"""The audit chain's head in a one-row table, initialised from the last event so existing chains
continue unchanged. Writers lock it ``FOR UPDATE`` instead of taking an advisory lock and reading
the last row (compliance/services.py)."""

from django.db import migrations, models

INIT = """
INSERT INTO compliance_auditchainhead (id, last_seq, last_hash)
SELECT 1,
       COALESCE((SELECT seq FROM compliance_auditevent ORDER BY seq DESC LIMIT 1), 0),
       COALESCE((SELECT row_hash FROM compliance_auditevent ORDER BY seq DESC LIMIT 1), repeat('0', 64))
ON CONFLICT (id) DO NOTHING
"""


class Migration(migrations.Migration):
    dependencies = [("compliance", "0005_outbound_email")]

    operations = [
        migrations.CreateModel(
            name="AuditChainHead",
            fields=[
                ("id", models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False)),
                ("last_seq", models.BigIntegerField()),
                ("last_hash", models.CharField(max_length=64)),
            ],
            options={
                "constraints": [models.CheckConstraint(condition=models.Q(("id", 1)), name="compliance_auditchainhead_one_row")],
            },
        ),
        migrations.RunSQL(INIT, migrations.RunSQL.noop),
    ]
