"""API tokens: only a SHA-256 of each key is stored, with an expiry.

Existing keys (DRF's ``authtoken_token``, stored in clear) are moved over as hashes and the clear
rows deleted: clients keep working with the key they have, until the new expiry (a full
``API_TOKEN_VALID_DAYS`` from this migration, so nobody is cut off by it).
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def tokens_hash(apps, schema_editor):
    # DRF's table is read with SQL, not through its app, so that ``rest_framework.authtoken`` can leave
    # INSTALLED_APPS later without breaking this migration (a fresh database has no such table).
    connection = schema_editor.connection
    if "authtoken_token" not in connection.introspection.table_names():
        return
    ApiToken = apps.get_model("accounts", "ApiToken")
    now = django.utils.timezone.now()
    expires_at = now + timedelta(days=getattr(settings, "API_TOKEN_VALID_DAYS", 90))
    with connection.cursor() as cursor:
        cursor.execute("SELECT key, user_id, created FROM authtoken_token")
        rows = cursor.fetchall()
        for key, user_id, created in rows:
            ApiToken.objects.create(
                user_id=user_id,
                key_hash=hashlib.sha256(key.encode()).hexdigest(),
                created_at=created or now,
                expires_at=expires_at,
            )
        cursor.execute("DELETE FROM authtoken_token")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_organisation_monthly_search_quota"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ApiToken",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("key_hash", models.CharField(max_length=64, unique=True)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("expires_at", models.DateTimeField()),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="api_tokens", to=settings.AUTH_USER_MODEL
                    ),
                ),
            ],
            options={"ordering": ["-created_at"], "verbose_name": "token"},
        ),
        # Irreversible in substance: the clear keys are gone. Going back leaves no tokens (holders make new ones).
        migrations.RunPython(tokens_hash, migrations.RunPython.noop),
    ]
