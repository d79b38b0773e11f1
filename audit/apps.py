from django.apps import AppConfig


class AuditConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "audit"
    verbose_name = "Audit log"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from audit.tlog import checkpoint_ensure

        post_migrate.connect(checkpoint_ensure, sender=self, dispatch_uid="audit.checkpoint_ensure")
