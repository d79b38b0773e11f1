from django.db import migrations, models


def file_urls_to_names(apps, schema_editor):
    """Imports used to record a file:// URL (a server path): keep only the file's own name."""
    SourceImage = apps.get_model("search", "SourceImage")
    for image in SourceImage.objects.filter(image_url__istartswith="file:").only("pk", "image_url"):
        image.original_name = image.image_url.rstrip("/").rsplit("/", 1)[-1][:255]
        image.image_url = ""
        image.save(update_fields=["original_name", "image_url"])


class Migration(migrations.Migration):
    dependencies = [("search", "0003_face_hnsw_per_model")]

    operations = [
        migrations.AddField(
            model_name="sourceimage",
            name="original_name",
            field=models.CharField(blank=True, help_text="file name of an imported photo", max_length=255),
        ),
        migrations.RunPython(file_urls_to_names, migrations.RunPython.noop),
    ]
