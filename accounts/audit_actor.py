"""Who an audit event's actor is, as the log records it: the audit app asks accounts through the
describer it registers in ``AccountsConfig.ready()`` (roles live here, not in the audit app)."""

from __future__ import annotations

from typing import Any

from accounts.selectors import membership_for, user_staff_groups


def audit_actor_fields(actor: Any) -> tuple[int | None, str, str, int | None]:
    """(id, label, roles, organisation id) of an actor as the log records it
    (registered with audit.services.audit_actor_describer_set)."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return None, "system" if actor is None else "anonymous", "", None
    roles = sorted(user_staff_groups(user=actor))
    membership = membership_for(user=actor)
    if membership is not None:
        roles.append(membership.role)
    if actor.is_superuser:
        roles.append("admin")
    org_id = membership.organisation_id if membership is not None else None
    return actor.pk, actor.email, ",".join(roles), org_id
