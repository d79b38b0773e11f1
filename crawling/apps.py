from django.apps import AppConfig


class CrawlingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "crawling"

    def ready(self) -> None:
        from crawling import figures

        figures.figures_register()
