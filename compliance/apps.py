from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "compliance"
    verbose_name = "Compliance"

    def ready(self) -> None:
        from django.contrib import admin
        from django.db.models.signals import post_migrate

        from compliance import figures, retention
        from compliance.admin_audit import audit_every_admin
        from compliance.retention import retention_policies_ensure

        # Admin autodiscovery ran in django.contrib.admin's ready() (listed first): every admin is
        # registered by now. Those registered by third-party apps are re-registered to audit too.
        audit_every_admin(admin.site)
        post_migrate.connect(
            retention_policies_ensure,
            sender=self,
            dispatch_uid="compliance.retention_policies_ensure",
        )
        retention.sweepers_register()
        # First of the apps (INSTALLED_APPS order): the sections, then each app adds its figures.
        figures.figures_register()
