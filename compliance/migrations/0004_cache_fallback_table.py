"""The table the cache falls back to while Redis is unreachable (config/cache.py)."""

from django.core.management.commands.createcachetable import Command as CreateCacheTable
from django.db import migrations

TABLE = "cache_fallback"


def create(apps, schema_editor):
    command = CreateCacheTable()
    command.verbosity = 0
    command.create_table(schema_editor.connection.alias, TABLE, False)


def drop(apps, schema_editor):
    schema_editor.execute(f"DROP TABLE IF EXISTS {schema_editor.quote_name(TABLE)}")


class Migration(migrations.Migration):
    dependencies = [("compliance", "0003_dpia_sweepreceipt_legalhold_retentionpolicy")]

    operations = [migrations.RunPython(create, drop)]
