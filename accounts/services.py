"""Writes for accounts: organisations, memberships, invitations, the first admin."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import ApiToken, Invitation, Membership, Organisation, Role, User
from accounts.tokens import (  # noqa: F401 (re-exported: callers import the token services from here)
    ApiTokenCreated,
    api_token_create,
    api_token_hash,
    api_token_revoke,
    api_token_rotate,
    api_token_touch,
)
from audit.services import audit_record


def invitation_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def organisation_create(
    *, name: str, actor: User | None = None, admin_email: str | None = None
) -> Organisation:
    """Create a customer organisation (optionally inviting its first org admin)."""
    name = name.strip()
    if not name:
        raise ValidationError("An organisation needs a name.")
    base = slugify(name)[:70] or "org"
    slug, n = base, 1
    while Organisation.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    org = Organisation.objects.create(name=name, slug=slug)
    audit_record(actor=actor, action="accounts.organisation.created", target=org, outcome="success")
    if admin_email:
        invitation_create(
            organisation=org, email=admin_email, role=Role.ORG_ADMIN, invited_by=actor
        )
    return org


@transaction.atomic
def organisation_set_active(
    *, organisation: Organisation, active: bool, actor: User | None, ip: str | None = None
) -> Organisation:
    """Deactivate (or reactivate) a customer organisation; audited.

    Deactivation takes effect everywhere at once through ``accounts.selectors.user_access_refusal``
    (sessions, API tokens, invitations, queued searches). Here it also revokes the pending
    invitations and every member's API token, so nothing issued before works after a reactivation.
    """
    organisation = Organisation.objects.select_for_update().get(pk=organisation.pk)
    if organisation.is_active == active:
        return organisation
    organisation.is_active = active
    organisation.save(update_fields=["is_active"])
    audit_record(
        actor=actor,
        action="accounts.organisation.reactivated"
        if active
        else "accounts.organisation.deactivated",
        target=organisation,
        outcome="success",
        ip=ip,
        organisation_id=organisation.pk,
    )
    if not active:
        pending = Invitation.objects.select_for_update().filter(
            organisation=organisation, status=Invitation.Status.PENDING
        )
        for invitation in pending:
            invitation.status = Invitation.Status.REVOKED
            invitation.save(update_fields=["status"])
            audit_record(
                actor=actor,
                action="accounts.invitation.revoked",
                target=invitation,
                outcome="success",
                ip=ip,
                details={"reason": "organisation_deactivated"},
            )
        for member in User.objects.filter(membership__organisation=organisation):
            api_tokens_revoke_on_change(
                user=member, reason="organisation_deactivated", actor=actor, ip=ip
            )
    return organisation


@dataclass(frozen=True)
class InvitationSent:
    invitation: Invitation
    url: str


@transaction.atomic
def invitation_create(
    *,
    organisation: Organisation,
    email: str,
    role: str,
    invited_by: User | None,
    ip: str | None = None,
) -> InvitationSent:
    """Invite ``email`` to ``organisation`` and email the single-use signup link.

    The answer is the same whatever the address: an address that already has an account (in
    another organisation, or staff) gets a pending invitation like any other, and an email telling
    that person, not the org admin, why it cannot be used. Only a member of the inviting
    organisation itself is refused (the org admin sees them listed anyway).
    """
    email = User.objects.normalize_email(email.strip()).lower()
    if role not in Role.values:
        raise ValidationError(f"Unknown role {role!r}.")
    organisation = Organisation.objects.select_for_update().get(pk=organisation.pk)
    if not organisation.is_active:
        raise ValidationError("This organisation is deactivated: it cannot send invitations.")
    existing = User.objects.filter(email__iexact=email).first()
    if (
        existing is not None
        and Membership.objects.filter(user=existing, organisation=organisation).exists()
    ):
        raise ValidationError("This person is already a member of your organisation.")
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    Invitation.objects.filter(
        organisation=organisation, email__iexact=email, status=Invitation.Status.PENDING
    ).update(status=Invitation.Status.REVOKED)
    try:
        with transaction.atomic():
            invitation = Invitation.objects.create(
                organisation=organisation,
                email=email,
                role=role,
                token_hash=invitation_token_hash(token),
                invited_by=invited_by,
                expires_at=now + timedelta(days=settings.INVITATION_VALID_DAYS),
            )
    except IntegrityError as exc:  # a concurrent duplicate submission
        raise ValidationError("An invitation for this address is already pending.") from exc
    url = settings.SITE_URL.rstrip("/") + reverse("accounts:invitation_accept", args=[token])
    audit_record(
        actor=invited_by,
        action="accounts.invitation.created",
        target=invitation,
        outcome="success",
        ip=ip,
        details={"organisation": organisation.pk, "role": role},
    )
    context = {"invitation": invitation, "url": url, "days": settings.INVITATION_VALID_DAYS}
    # An address with an account gets no link it could not use: it is told why, privately.
    template = (
        "accounts/email/invitation_existing_account.txt"
        if existing is not None
        else "accounts/email/invitation.txt"
    )
    transaction.on_commit(
        lambda: send_mail(
            subject=f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}You are invited to {organisation.name}",
            message=render_to_string(template, context),
            from_email=None,
            recipient_list=[email],
        )
    )
    return InvitationSent(invitation=invitation, url=url)


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor: User, ip: str | None = None) -> Invitation:
    """Revoke a pending invitation; its link stops working."""
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.status != Invitation.Status.PENDING:
        raise ValidationError("Only a pending invitation can be revoked.")
    invitation.status = Invitation.Status.REVOKED
    invitation.save(update_fields=["status"])
    audit_record(
        actor=actor,
        action="accounts.invitation.revoked",
        target=invitation,
        outcome="success",
        ip=ip,
    )
    return invitation


def invitation_get_usable(*, token: str) -> Invitation | None:
    """The pending, unexpired invitation for a link's token, or None."""
    invitation = (
        Invitation.objects.select_related("organisation")
        .filter(token_hash=invitation_token_hash(token))
        .first()
    )
    if invitation is None or not invitation.is_usable:
        return None
    return invitation


@transaction.atomic
def invitation_accept(*, invitation_id: int, user: User, ip: str | None = None) -> Membership:
    """Turn an invitation into a membership for the user who signed up with it."""
    invitation = (
        Invitation.objects.select_for_update().select_related("organisation").get(pk=invitation_id)
    )
    if not invitation.is_usable:  # pending, unexpired, and its organisation still active
        raise ValidationError("This invitation is no longer valid.")
    if invitation.email.lower() != user.email.lower():
        raise ValidationError("This invitation was sent to another address.")
    membership = Membership.objects.create(
        user=user, organisation=invitation.organisation, role=invitation.role
    )
    invitation.status = Invitation.Status.ACCEPTED
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["status", "accepted_at", "accepted_by"])
    audit_record(
        actor=user,
        action="accounts.invitation.accepted",
        target=invitation,
        outcome="success",
        ip=ip,
        details={"organisation": invitation.organisation_id, "role": invitation.role},
    )
    return membership


@transaction.atomic
def invitations_expire() -> int:
    """Mark pending invitations past their expiry as expired. Idempotent."""
    expired = list(
        Invitation.objects.select_for_update().filter(
            status=Invitation.Status.PENDING, expires_at__lte=timezone.now()
        )
    )
    for invitation in expired:
        invitation.status = Invitation.Status.EXPIRED
        invitation.save(update_fields=["status"])
        audit_record(
            actor=None, action="accounts.invitation.expired", target=invitation, outcome="success"
        )
    return len(expired)


def _membership_lock_with_organisation(*, membership_id: int, actor: User | None) -> Membership:
    """Lock the membership's organisation row, then read the membership afresh (caller's transaction).

    Every change to who is an org admin takes the organisation's lock first, so two admins
    removing or demoting each other at the same moment are serialised and the second one counts
    what the first one left. (Locking only the admin rows would not do: each would count the others.)
    An org admin acting is still one under the lock: one removed a moment ago changes nothing more.
    """
    organisation_id = (
        Membership.objects.filter(pk=membership_id)
        .values_list("organisation_id", flat=True)
        .first()
    )
    if organisation_id is None:
        raise ValidationError("This person is no longer a member.")
    Organisation.objects.select_for_update().filter(pk=organisation_id).first()
    membership = (
        Membership.objects.select_for_update()
        .select_related("user")
        .filter(pk=membership_id)
        .first()
    )
    if membership is None or membership.organisation_id != organisation_id:
        raise ValidationError("This person is no longer a member.")
    acting_admin = Membership.objects.filter(
        user=actor, organisation_id=organisation_id, role=Role.ORG_ADMIN
    )
    if (
        actor is not None
        and not (actor.is_staff or actor.is_superuser)
        and not acting_admin.exists()
    ):
        raise ValidationError("You are no longer an org admin of this organisation.")
    return membership


def _org_admins_keep_one(*, organisation_id: int) -> None:
    """Refuse to take away an org admin when only one is left (caller holds the organisation's lock)."""
    if Membership.objects.filter(organisation=organisation_id, role=Role.ORG_ADMIN).count() <= 1:
        raise ValidationError("An organisation needs at least one org admin.")


@transaction.atomic
def membership_set_role(
    *, membership: Membership, role: str, actor: User, ip: str | None = None
) -> Membership:
    """Change a member's role; an organisation always keeps at least one org admin."""
    if role not in Role.values:
        raise ValidationError(f"Unknown role {role!r}.")
    membership = _membership_lock_with_organisation(membership_id=membership.pk, actor=actor)
    if membership.role == Role.ORG_ADMIN and role != Role.ORG_ADMIN:
        _org_admins_keep_one(organisation_id=membership.organisation_id)
    old = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    if old != role:
        api_tokens_revoke_on_change(user=membership.user, reason="role_changed", actor=actor, ip=ip)
    audit_record(
        actor=actor,
        action="accounts.membership.role_changed",
        target=membership,
        outcome="success",
        ip=ip,
        details={"from": old, "to": role},
    )
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, actor: User, ip: str | None = None) -> None:
    """Remove a member from their organisation and deactivate their login."""
    membership = _membership_lock_with_organisation(membership_id=membership.pk, actor=actor)
    if membership.role == Role.ORG_ADMIN:
        _org_admins_keep_one(organisation_id=membership.organisation_id)
    user = membership.user
    audit_record(
        actor=actor,
        action="accounts.membership.removed",
        target=membership,
        outcome="success",
        ip=ip,
        details={"organisation": membership.organisation_id},
    )
    membership.delete()
    user.is_active = False
    user.save(update_fields=["is_active"])
    api_tokens_revoke_on_change(user=user, reason="removed_from_organisation", actor=actor, ip=ip)


@dataclass(frozen=True)
class AdminEnsured:
    user: User
    created: bool
    password: str | None


@transaction.atomic
def admin_ensure(*, email: str, password: str | None) -> AdminEnsured:
    """Create the first superuser if no superuser exists; a generated password is returned once."""
    existing = User.objects.filter(is_superuser=True).order_by("pk").first()
    if existing is not None:
        return AdminEnsured(user=existing, created=False, password=None)
    generated = password or secrets.token_urlsafe(18)
    user = User.objects.create_superuser(email=email, password=generated)
    from allauth.account.models import EmailAddress

    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    audit_record(actor=None, action="accounts.admin.created", target=user, outcome="success")
    return AdminEnsured(user=user, created=True, password=None if password else generated)


TOKEN_REVOCATION_REASONS = {
    "deactivated": "the user was deactivated",
    "removed_from_organisation": "the user was removed from the organisation",
    "role_changed": "the user's role changed",
    "password_changed": "the user's password was changed or reset",
    "organisation_deactivated": "the user's organisation was deactivated",
}


@transaction.atomic
def api_tokens_revoke_on_change(
    *, user: User, reason: str, actor: User | None, ip: str | None = None
) -> bool:
    """Delete the user's API tokens because their access or password changed; audited in the same transaction.

    Called by every path that deactivates a user, removes them from their organisation or
    changes their role (the org admin's pages and the Django admin), deactivates their
    organisation, and by ``User.save`` whenever a password changes (change, reset, admin). A new
    token must be created by the user afterwards, under the access they now have.
    """
    if reason not in TOKEN_REVOCATION_REASONS:
        raise ValueError(f"Unknown revocation reason {reason!r}.")
    revoked = ApiToken.objects.filter(user=user).delete()[0] > 0
    if revoked:
        audit_record(
            actor=actor,
            action="accounts.api_token.revoked",
            target=user,
            outcome="success",
            ip=ip,
            details={"reason": reason},
        )
    return revoked
