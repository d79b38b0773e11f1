"""The transparency log: leaf hashes and indices on the events, stored tree nodes, checkpoints.

Old chain events get their leaf hash here (their chain columns stay, for history; new rows leave
them empty) and become the first leaves, in ``seq`` order, when the sequencer first runs (the
post_migrate handler ``audit.tlog.checkpoint_ensure`` does, and writes the first checkpoint).

The append-only trigger now also lets the sequencer set ``leaf_index`` once (NULL to a value,
nothing else changed); redaction may still blank ``details`` only.
"""

from django.db import migrations, models

DROP_OLD_TRIGGER = "DROP TRIGGER IF EXISTS compliance_auditevent_no_update_delete ON compliance_auditevent"

TRIGGER = """
CREATE OR REPLACE FUNCTION compliance_auditevent_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF OLD.leaf_index IS NULL AND NEW.leaf_index IS NOT NULL
           AND (to_jsonb(NEW) - 'leaf_index') = (to_jsonb(OLD) - 'leaf_index') THEN
            RETURN NEW;
        END IF;
        IF current_setting('compliance.audit_redaction', true) = 'on'
           AND OLD.redacted_at IS NULL AND NEW.redacted_at IS NOT NULL
           AND (to_jsonb(NEW) - 'details' - 'redacted_at')
               = (to_jsonb(OLD) - 'details' - 'redacted_at') THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'compliance_auditevent is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER compliance_auditevent_no_update_delete
    BEFORE UPDATE OR DELETE ON compliance_auditevent
    FOR EACH ROW EXECUTE FUNCTION compliance_auditevent_append_only();
"""


def leaf_hashes_fill(apps, schema_editor):
    from audit.leaves import LEAF_COLUMNS, leaf_from_row, leaf_hash_of

    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(LEAF_COLUMNS)} FROM compliance_auditevent"  # noqa: S608
            " WHERE leaf_hash IS NULL ORDER BY seq"
        )
        rows = cursor.fetchall()
        for i in range(0, len(rows), 5000):
            chunk = rows[i : i + 5000]
            cursor.execute(
                "UPDATE compliance_auditevent e SET leaf_hash = t.h"
                " FROM unnest(%s::bigint[], %s::bytea[]) AS t(s, h) WHERE e.seq = t.s",
                [[r[0] for r in chunk], [leaf_hash_of(leaf_from_row(r)) for r in chunk]],
            )


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0001_auditevent_moved_from_compliance"),
        ("compliance", "0007_auditevent_moved_to_audit"),
    ]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="prev_hash",
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="row_hash",
            field=models.CharField(blank=True, max_length=64, null=True, unique=True),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="leaf_hash",
            field=models.BinaryField(max_length=32, null=True),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="leaf_index",
            field=models.BigIntegerField(blank=True, null=True, unique=True),
        ),
        migrations.RunSQL(DROP_OLD_TRIGGER, migrations.RunSQL.noop),
        migrations.RunPython(leaf_hashes_fill, migrations.RunPython.noop),
        migrations.RunSQL(
            "ALTER TABLE compliance_auditevent ALTER COLUMN leaf_hash SET NOT NULL;"
            " ALTER TABLE compliance_auditevent ADD CONSTRAINT audit_leaf_hash_32"
            " CHECK (octet_length(leaf_hash) = 32)",
            "ALTER TABLE compliance_auditevent DROP CONSTRAINT audit_leaf_hash_32;"
            " ALTER TABLE compliance_auditevent ALTER COLUMN leaf_hash DROP NOT NULL",
        ),
        migrations.RunSQL(TRIGGER, DROP_OLD_TRIGGER),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(
                condition=models.Q(("leaf_index__isnull", True)),
                fields=["seq"],
                name="audit_event_unsequenced",
            ),
        ),
        migrations.CreateModel(
            name="TreeNode",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("level", models.PositiveSmallIntegerField()),
                ("index", models.BigIntegerField()),
                ("hash", models.BinaryField(max_length=32)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("level", "index"), name="audit_treenode_one_per_place")
                ],
            },
        ),
        migrations.CreateModel(
            name="Checkpoint",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("tree_size", models.BigIntegerField(unique=True)),
                ("root_hash", models.BinaryField(max_length=32)),
                ("note", models.TextField(help_text="The signed note (C2SP tlog-checkpoint), as published.")),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={"ordering": ["tree_size"], "get_latest_by": "tree_size"},
        ),
    ]
