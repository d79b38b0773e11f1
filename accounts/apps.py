from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"
    verbose_name = "Accounts and organisations"

    def ready(self) -> None:
        from accounts import mfa, security_audit
        from accounts.staff import staff_groups_sync

        security_audit.connect()
        from accounts.audit_actor import audit_actor_fields
        from audit.services import audit_actor_describer_set

        audit_actor_describer_set(audit_actor_fields)
        mfa.connect()
        # After admin autodiscovery (the admin app is first in INSTALLED_APPS): the hashed tokens' list.
        from django.apps import apps

        if apps.is_installed("django.contrib.admin"):
            from accounts import admin_tokens

            admin_tokens.register()

        post_migrate.connect(
            staff_groups_sync, sender=self, dispatch_uid="accounts.staff_groups_sync"
        )
