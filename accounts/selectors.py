"""Reads and access checks for accounts. Every user-facing queryset is scoped here."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from accounts.models import Invitation, Membership, Role, User

STAFF_GROUPS = ("dpo", "auditor")


def membership_for(*, user: User) -> Membership | None:
    if not user.is_authenticated:
        return None
    try:
        return user.membership
    except Membership.DoesNotExist:
        return None


def user_is_org_admin(*, user: User) -> bool:
    membership = membership_for(user=user)
    return membership is not None and membership.role == Role.ORG_ADMIN


def user_staff_groups(*, user: User) -> set[str]:
    if not user.is_authenticated:
        return set()
    return set(user.groups.filter(name__in=STAFF_GROUPS).values_list("name", flat=True))


def user_requires_mfa(*, user: User) -> bool:
    """Staff (admins, DPO, auditors) and org admins must use a second factor."""
    if not user.is_authenticated:
        return False
    return bool(user.is_staff or user.is_superuser or user_staff_groups(user=user) or user_is_org_admin(user=user))


def user_has_mfa(*, user: User) -> bool:
    from allauth.mfa.models import Authenticator

    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


def access_org_admin_membership(*, user: User) -> Membership:
    """The org admin's own membership; 404 for anyone else."""
    membership = membership_for(user=user)
    if membership is None:
        raise Http404
    if membership.role != Role.ORG_ADMIN:
        raise Http404
    return membership


def member_list(*, user: User) -> QuerySet[Membership]:
    admin = access_org_admin_membership(user=user)
    return Membership.objects.filter(organisation=admin.organisation_id).select_related("user")


def access_membership_by_id(*, user: User, membership_id: int) -> Membership:
    """A membership of the org admin's own organisation; 404 otherwise."""
    admin = access_org_admin_membership(user=user)
    membership = Membership.objects.select_related("user").filter(pk=membership_id).first()
    if membership is None:
        raise Http404
    if membership.organisation_id != admin.organisation_id:
        raise Http404
    return membership


def invitation_list(*, user: User) -> QuerySet[Invitation]:
    admin = access_org_admin_membership(user=user)
    return Invitation.objects.filter(organisation=admin.organisation_id, status=Invitation.Status.PENDING)


def access_invitation_by_id(*, user: User, invitation_id: int) -> Invitation:
    admin = access_org_admin_membership(user=user)
    invitation = Invitation.objects.filter(pk=invitation_id).first()
    if invitation is None:
        raise Http404
    if invitation.organisation_id != admin.organisation_id:
        raise Http404
    return invitation
