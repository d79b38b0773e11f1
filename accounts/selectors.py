"""Reads and access checks for accounts. Every user-facing queryset is scoped here."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet
from django.http import Http404

from accounts.models import ApiToken, Invitation, Membership, Organisation, Role, User

STAFF_GROUPS = ("dpo", "auditor")


@dataclass(frozen=True)
class AccessRefusal:
    """Why a user's access is refused although their credentials are valid (one code, one message)."""

    code: str
    message: str


ORGANISATION_DEACTIVATED = AccessRefusal(
    "organisation_deactivated",
    "Your organisation's access to Face search has been deactivated. Its searches, results and API tokens "
    "cannot be used. Contact us if you think this is a mistake.",
)
ACCOUNT_DEACTIVATED = AccessRefusal(
    "account_deactivated",
    "This account has been deactivated. Ask your organisation's admin if you need access again.",
)
NOT_A_MEMBER = AccessRefusal(
    "not_a_member", "The user who made this is no longer a member of the organisation."
)


def _membership_row(*, user: User) -> Membership | None:
    try:
        return user.membership
    except Membership.DoesNotExist:
        return None


def user_access_refusal(*, user: User) -> AccessRefusal | None:
    """Whether a logged-in user (session or API token) is refused: deactivated account or organisation.

    The one rule for every path in: the session middleware, the API's token authentication, login,
    and (through ``work_access_refusal``) work queued before a deactivation.
    """
    if not user.is_authenticated:
        return None
    if not user.is_active:
        return ACCOUNT_DEACTIVATED
    membership = _membership_row(user=user)
    if membership is not None and not membership.organisation.is_active:
        return ORGANISATION_DEACTIVATED
    return None


def work_access_refusal(*, organisation_id: int, user_id: int | None) -> AccessRefusal | None:
    """Whether work queued for ``user_id`` in ``organisation_id`` may no longer run (a worker asks this).

    Refused when the organisation was deactivated, or the user deactivated or removed from it,
    after the work was queued.
    """
    if not Organisation.objects.filter(pk=organisation_id, is_active=True).exists():
        return ORGANISATION_DEACTIVATED
    if user_id is None:
        return NOT_A_MEMBER
    user = User.objects.filter(pk=user_id).first()
    if user is None or not user.is_active:
        return ACCOUNT_DEACTIVATED
    if not Membership.objects.filter(user_id=user_id, organisation_id=organisation_id).exists():
        return NOT_A_MEMBER
    return None


def membership_for(*, user: User) -> Membership | None:
    """The user's membership, or None; none for a deactivated account or organisation (no customer access)."""
    if not user.is_authenticated:
        return None
    membership = _membership_row(user=user)
    if membership is None:
        return None
    if not user.is_active:
        return None
    if not membership.organisation.is_active:
        return None
    return membership


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
    return bool(
        user.is_staff
        or user.is_superuser
        or user_staff_groups(user=user)
        or user_is_org_admin(user=user)
    )


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
    return Invitation.objects.filter(
        organisation=admin.organisation_id, status=Invitation.Status.PENDING
    )


def access_invitation_by_id(*, user: User, invitation_id: int) -> Invitation:
    admin = access_org_admin_membership(user=user)
    invitation = Invitation.objects.filter(pk=invitation_id).first()
    if invitation is None:
        raise Http404
    if invitation.organisation_id != admin.organisation_id:
        raise Http404
    return invitation


def api_token_list(*, user: User) -> QuerySet[ApiToken]:
    """A user's own API tokens, newest first (name, dates; never a key: none is stored)."""
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-pk")


def access_api_token(*, user: User, token_id: int) -> ApiToken:
    """A token its holder may revoke, or an admin of the holder's organisation; 404 otherwise."""
    if not 0 < token_id < 2**63:
        raise Http404
    own = membership_for(user=user)
    if own is None:
        raise Http404
    token = ApiToken.objects.select_related("user").filter(pk=token_id).first()
    if token is None:
        raise Http404
    if token.user_id == user.pk:
        return token
    if own.role != Role.ORG_ADMIN:
        raise Http404
    holder = membership_for(user=token.user)
    if holder is None:
        raise Http404
    if holder.organisation_id != own.organisation_id:
        raise Http404
    return token
