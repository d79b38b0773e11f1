from __future__ import annotations

from celery import shared_task

from accounts import services


@shared_task(name="accounts.tasks.invitations_expire")
def invitations_expire() -> int:
    """Mark invitations past their expiry as expired (hourly, idempotent)."""
    return services.invitations_expire()
