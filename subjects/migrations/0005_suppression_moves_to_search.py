# The suppression list moves to the search app (beside ingestion, which reads it). The table stays
# where it is: subjects forgets the model here, search.0009 takes it over under the same db_table.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("subjects", "0004_subjectrequest_language"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Suppression")],
            database_operations=[],
        ),
    ]
