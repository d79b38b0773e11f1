"""Withholding under a legal restriction of the right of access (GDPR Art 23; issue 22 item 4).

An organisation may claim that one of its searches is covered by a restriction of the right of access
(for example the UK DPA 2018 crime exemption), with the legal basis and a reference. The DPO approves or
refuses every claim. Only an APPROVED claim withholds: the access package then omits that search's
organisation as a recipient (subjects.services._package_json reads ``withheld_searches``) and says
that some information is withheld, without saying which. Every claim and decision is audited in the
same transaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from audit.services import audit_record
from config.errors import ApplicationError
from search.models import AccessRestrictionBasis, SearchRequest

if TYPE_CHECKING:
    from accounts.models import User

R = SearchRequest.AccessRestriction


class WithholdingRefused(ApplicationError):
    """The claim or decision cannot be made in the search's present state (nothing was changed; 409)."""

    default_code = "withholding_refused"
    default_status = 409


def access_restriction_may_claim(*, search: SearchRequest, user: User) -> bool:
    """The organisation's admin, or the analyst who ran the search. The caller has already scoped the
    search to the user's organisation (search.selectors.access_search_by_id: a stranger gets 404)."""
    from accounts.selectors import membership_for

    membership = membership_for(user=user)
    if membership is None:
        return False
    if membership.organisation_id != search.organisation_id:
        return False
    return membership.is_org_admin or search.user_id == user.pk


@transaction.atomic
def search_access_restriction_claim(
    *, search: SearchRequest, user: User, basis: str, reference: str, ip: str | None = None
) -> SearchRequest:
    """Claim that ``search`` is covered by a restriction of the right of access (Art 23). Audited.

    The claim waits for the DPO; until approved it withholds nothing. A refused claim may be made again
    (with a better reference); a pending or approved one may not be changed here.
    Raises PermissionDenied (not the org admin nor the analyst who ran it), ValidationError (basis or
    reference) or WithholdingRefused (the search is not finished, or a claim is already pending/approved).
    """
    reference = (reference or "").strip()
    errors: dict[str, str] = {}
    if basis not in AccessRestrictionBasis.values:
        errors["basis"] = "Choose the legal basis of the restriction."
    if not reference:
        errors["reference"] = (
            "Give the reference of the restriction (the law and your case or decision reference)."
        )
    elif len(reference) > 200:
        errors["reference"] = "A reference has at most 200 characters."
    if errors:
        raise ValidationError(errors)
    search = SearchRequest.objects.select_for_update().get(pk=search.pk)
    if not access_restriction_may_claim(search=search, user=user):
        raise PermissionDenied(
            "Only the organisation's admin or the analyst who ran the search may claim a restriction."
        )
    if search.status != SearchRequest.Status.DONE:
        raise WithholdingRefused(
            "Only a finished search whose results were shown can be withheld.", code="not_finished"
        )
    if search.access_restriction in (R.PENDING, R.APPROVED):
        raise WithholdingRefused(
            "A restriction is already claimed for this search.", code="already_claimed"
        )
    now = timezone.now()
    search.access_restriction = R.PENDING
    search.access_restriction_basis = basis
    search.access_restriction_reference = reference
    search.access_restriction_claimed_by = user
    search.access_restriction_claimed_at = now
    search.access_restriction_decided_by = None
    search.access_restriction_decided_at = None
    search.access_restriction_note = ""
    search.save(update_fields=list(_FIELDS))
    audit_record(
        actor=user,
        action="search.access_restriction.claimed",
        target=search,
        outcome="success",
        ip=ip,
        details={"basis": basis, "reference": reference},
        organisation_id=search.organisation_id,
    )
    return search


_FIELDS = (
    "access_restriction",
    "access_restriction_basis",
    "access_restriction_reference",
    "access_restriction_claimed_by",
    "access_restriction_claimed_at",
    "access_restriction_decided_by",
    "access_restriction_decided_at",
    "access_restriction_note",
)


@transaction.atomic
def search_access_restriction_decide(
    *, search: SearchRequest, approve: bool, actor: Any, note: str = "", ip: str | None = None
) -> SearchRequest:
    """The DPO approves or refuses a pending claim (with reasons when refusing). Audited.

    Only the DPO's approval makes the claim withhold anything from an access package.
    """
    note = (note or "").strip()
    if not approve and not note:
        raise ValidationError({"note": "Say why the claim is refused."})
    search = SearchRequest.objects.select_for_update().get(pk=search.pk)
    if search.access_restriction != R.PENDING:
        raise WithholdingRefused(
            "This search has no claim waiting for a decision.", code="not_pending"
        )
    search.access_restriction = R.APPROVED if approve else R.REFUSED
    search.access_restriction_decided_by = actor
    search.access_restriction_decided_at = timezone.now()
    search.access_restriction_note = note[:2000]
    search.save(
        update_fields=[
            "access_restriction",
            "access_restriction_decided_by",
            "access_restriction_decided_at",
            "access_restriction_note",
        ]
    )
    audit_record(
        actor=actor,
        action=f"search.access_restriction.{'approved' if approve else 'refused'}",
        target=search,
        outcome="success",
        ip=ip,
        details={
            "basis": search.access_restriction_basis,
            "reference": search.access_restriction_reference,
        },
        organisation_id=search.organisation_id,
    )
    return search


def access_restriction_claim_list(*, status: str | None = None) -> QuerySet[SearchRequest]:
    """Searches with a claim (for the DPO), pending first then the most recent."""
    searches = SearchRequest.objects.exclude(access_restriction=R.NONE).select_related(
        "organisation", "user", "access_restriction_claimed_by", "access_restriction_decided_by"
    )
    if status:
        searches = searches.filter(access_restriction=status)
    return searches.order_by("-access_restriction_claimed_at")


def withheld_searches() -> QuerySet[SearchRequest]:
    """The searches whose organisation an access package must not name (approved claims only)."""
    return SearchRequest.objects.filter(access_restriction=R.APPROVED)
