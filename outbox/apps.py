from django.apps import AppConfig


class OutboxConfig(AppConfig):
    """The durable email outbox: a low layer every app may use to send email with its change."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "outbox"
