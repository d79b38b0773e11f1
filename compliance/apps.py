import functools
from typing import Any

from django.apps import AppConfig


def _audit_admin_log_entry(instance: Any) -> None:
    from compliance.services import audit_record

    verb = {1: "added", 2: "changed", 3: "deleted"}.get(instance.action_flag, "acted")
    ct = instance.content_type
    model = f"{ct.app_label}.{ct.model}" if ct else "unknown"
    audit_record(
        actor=instance.user,
        action=f"admin.{model}.{verb}",
        target=f"{model}:{instance.object_id}" if instance.object_id else model,
        outcome="success",
        details={"fields": _changed_fields(instance)},
    )


def _changed_fields(entry: Any) -> list[str]:
    try:
        messages = entry.get_change_message_list() if hasattr(entry, "get_change_message_list") else []
    except Exception:  # noqa: BLE001 - a malformed change message must not block the admin
        return []
    fields: list[str] = []
    for message in messages or []:
        for value in message.values() if isinstance(message, dict) else []:
            if isinstance(value, dict):
                fields.extend(str(f) for f in value.get("fields", []))
    return fields


class ComplianceConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "compliance"
    verbose_name = "Compliance"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from compliance.retention import retention_policies_ensure

        _wrap_admin_logging()
        post_migrate.connect(retention_policies_ensure, sender=self, dispatch_uid="compliance.retention_policies_ensure")


def _wrap_admin_logging() -> None:
    """Every change made in Django admin lands in the audit log, in the admin's transaction.

    Django admin records its changes through ``LogEntryManager.log_actions`` (bulk inserts for
    bulk deletions, so no ``post_save``); wrapping it catches single and bulk changes alike.
    """
    from django.contrib.admin.models import LogEntryManager

    original = LogEntryManager.log_actions
    if getattr(original, "_audited", False):
        return

    @functools.wraps(original)
    def log_actions(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        for entry in result if isinstance(result, list) else [result]:
            _audit_admin_log_entry(entry)
        return result

    log_actions._audited = True  # type: ignore[attr-defined]
    LogEntryManager.log_actions = log_actions  # type: ignore[method-assign]
