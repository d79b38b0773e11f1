from django.apps import AppConfig


class SubjectsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "subjects"

    def ready(self) -> None:
        from django.core import checks

        from config.i18n import check_catalogues
        from subjects import figures, retention

        checks.register(check_catalogues)
        retention.sweepers_register()
        figures.figures_register()
