from __future__ import annotations

from typing import Any

from celery import shared_task

from compliance import services


@shared_task(name="compliance.tasks.audit_anchor_write")
def audit_anchor_write() -> dict[str, Any]:
    """Write the daily audit anchor (the latest signed checkpoint) outside the database."""
    return services.audit_anchor_write()


@shared_task(name="compliance.tasks.audit_sequence")
def audit_sequence() -> int:
    """Safety net for the sequencer process: sequence what waits (one at a time, by lock)."""
    from audit.tlog import sequence_all

    return sequence_all()


@shared_task(name="compliance.tasks.retention_sweep_all")
def retention_sweep_all(actor_id: int | None = None) -> list[int]:
    """Apply every retention policy; returns the receipt ids. ``actor_id``: the DPO who started it (None: the schedule)."""
    from accounts.models import User
    from compliance.retention import retention_sweep_all as sweep

    actor = User.objects.filter(pk=actor_id).first() if actor_id else None
    return [r.pk for r in sweep(actor=actor)]


@shared_task(name="compliance.tasks.jurisdiction_sweep")
def jurisdiction_sweep(actor_id: int | None = None) -> int:
    """Purge data tied to excluded jurisdictions; returns the receipt id."""
    from accounts.models import User
    from compliance.retention import jurisdiction_sweep as sweep

    actor = User.objects.filter(pk=actor_id).first() if actor_id else None
    return sweep(actor=actor).pk


@shared_task(name="compliance.tasks.emails_send_pending")
def emails_send_pending() -> int:
    """Send emails left in the outbox (mail server or queue was down); returns how many went."""
    from compliance.outbox import emails_send_pending as send

    return send()


@shared_task(name="compliance.tasks.transparency_chain_check")
def transparency_chain_check() -> bool:
    """Verify the audit chain for the public transparency report; True when intact."""
    from compliance.transparency import chain_check

    return bool(chain_check()["ok"])
