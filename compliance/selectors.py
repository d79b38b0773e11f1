"""Reads for compliance."""

from __future__ import annotations

from django.db.models import QuerySet

from compliance.models import AuditEvent


def audit_event_list(*, action_prefix: str | None = None, limit: int = 100) -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.order_by("-seq")
    if action_prefix:
        events = events.filter(action__startswith=action_prefix)
    return events[:limit]
