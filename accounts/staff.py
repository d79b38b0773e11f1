"""Staff groups and exactly the permissions each holds (kept in sync after every migrate)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

STAFF_GROUP_PERMISSIONS: dict[str, list[str]] = {
    "dpo": [
        "dpo_access",
        "work_subject_requests",
        "approve_sources",
        "manage_retention",
        "run_jurisdiction_sweeps",
        "view_audit_log",
        "view_reports",
    ],
    "auditor": ["auditor_access", "view_audit_log", "export_audit_log", "view_reports"],
}


def staff_groups_sync(**kwargs: Any) -> None:
    """post_migrate: make the groups hold exactly their permissions (also after a test flush)."""
    from django.contrib.auth.models import Group, Permission
    from django.contrib.contenttypes.models import ContentType

    from accounts.models import StaffPermissions

    ct = ContentType.objects.get_for_model(StaffPermissions, for_concrete_model=False)
    labels = dict(StaffPermissions._meta.permissions)
    for group_name, codenames in STAFF_GROUP_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        perms = [
            Permission.objects.get_or_create(
                content_type=ct, codename=c, defaults={"name": labels[c]}
            )[0]
            for c in codenames
        ]
        group.permissions.set(perms)


STAFF_CREATE_GROUPS = tuple(STAFF_GROUP_PERMISSIONS)


@dataclass(frozen=True)
class StaffCreated:
    user: Any
    set_password_url: str


def staff_set_password_url(*, user: Any) -> str:
    """allauth's password-reset-by-key link for ``user``, on SITE_URL (valid until used or the password changes)."""
    from allauth.account import app_settings as account_settings
    from allauth.account.utils import user_pk_to_url_str
    from django.conf import settings
    from django.urls import reverse

    key = account_settings.PASSWORD_RESET_TOKEN_GENERATOR().make_token(user)
    path = reverse(
        "account_reset_password_from_key", kwargs={"uidb36": user_pk_to_url_str(user), "key": key}
    )
    return settings.SITE_URL.rstrip("/") + path


def staff_email_mark_verified(*, user: Any, actor: Any = None, ip: str | None = None) -> bool:
    """Staff are created by an admin, not by signup: their address counts as verified.

    Returns True when something changed (and was audited), in the caller's transaction.
    """
    from allauth.account.models import EmailAddress

    from audit.services import audit_record

    address = EmailAddress.objects.filter(user=user, email__iexact=user.email).first()
    if address is not None and address.verified and address.primary:
        return False
    if address is None:
        EmailAddress.objects.filter(user=user, primary=True).update(primary=False)
        EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    else:
        address.verified = True
        address.primary = True
        address.save(update_fields=["verified", "primary"])
    audit_record(
        actor=actor, action="accounts.staff.email_verified", target=user, outcome="success", ip=ip
    )
    return True


def staff_create(*, email: str, group: str, actor: Any = None) -> StaffCreated:
    """Create a DPO or auditor with a verified address and no usable password; returns a set-password link."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email
    from django.db import transaction

    from audit.services import audit_record

    email = email.strip().lower()
    validate_email(email)
    if group not in STAFF_CREATE_GROUPS:
        raise ValidationError(
            f"Unknown staff group {group!r}: choose one of {', '.join(STAFF_CREATE_GROUPS)}."
        )
    user_model = get_user_model()
    with transaction.atomic():
        if user_model.objects.filter(email__iexact=email).exists():
            raise ValidationError(f"A user with the address {email} already exists.")
        user = user_model.objects.create_user(email=email, password=None)
        user.groups.add(Group.objects.get(name=group))
        staff_email_mark_verified(user=user, actor=actor)
        audit_record(
            actor=actor,
            action="accounts.staff.created",
            target=user,
            outcome="success",
            details={"group": group},
        )
    return StaffCreated(user=user, set_password_url=staff_set_password_url(user=user))
