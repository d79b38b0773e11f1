# The suppression list comes over from subjects with its table and rows (state only: the table
# "subjects_suppression" is kept), and photos held for an erasure until a legal hold ends are marked.

import django.utils.timezone
import pgvector.django.vector
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("search", "0008_search_operating_point"),
        ("subjects", "0005_suppression_moves_to_search"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Suppression",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        (
                            "kind",
                            models.CharField(
                                choices=[
                                    ("page_url", "Page URL (SHA-256)"),
                                    ("image_url", "Image URL (SHA-256)"),
                                    ("image", "Image content (SHA-256)"),
                                    ("template", "Face template (with explicit consent)"),
                                ],
                                max_length=20,
                            ),
                        ),
                        ("value_sha256", models.CharField(max_length=64)),
                        ("template", pgvector.django.vector.VectorField(blank=True, null=True)),
                        ("model", models.CharField(blank=True, max_length=40)),
                        ("request_reference", models.CharField(blank=True, max_length=100)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                    ],
                    options={
                        "db_table": "subjects_suppression",
                        "constraints": [
                            models.UniqueConstraint(fields=("kind", "value_sha256"), name="subjects_suppression_unique")
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.AddField(
            model_name="sourceimage",
            name="erasure_reference",
            field=models.CharField(
                blank=True, default="", help_text="erasure request waiting for a legal hold to end", max_length=20
            ),
        ),
        migrations.AddField(
            model_name="sourceimage",
            name="erasure_requested_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
