from __future__ import annotations

from typing import Any

from celery import shared_task

from compliance import services


@shared_task(name="compliance.tasks.audit_anchor_write")
def audit_anchor_write() -> dict[str, Any]:
    """Write the daily audit anchor outside the database."""
    return services.audit_anchor_write()
