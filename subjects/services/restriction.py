"""Restriction: faces hidden while a request is pending or restricted, released or lifted later."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy

from search import stewardship
from search.models import Face
from subjects.models import (
    Candidate,
    RequestType,
    SubjectRequest,
)
from subjects.services.common import DECIDE_FIRST, _audit, _confirmed_faces, _located_face_ids
from subjects.services.notify import _email

S = SubjectRequest.Status


def _restrict_pending(request: SubjectRequest, *, actor: Any = None) -> int:
    """Erasure, objection, restriction: the faces the request locates are restricted (never returned by a search)
    from the moment the email is verified, while the proof that the requester is the person is pending. Reversible:
    the restriction this request caused is lifted if it is refused, withdrawn or a candidate rejected."""

    if request.type not in DECIDE_FIRST:
        return 0
    face_ids = _located_face_ids(
        request, statuses=[Candidate.Status.PROPOSED, Candidate.Status.CONFIRMED]
    )
    if not face_ids:
        return 0
    restricted = stewardship.faces_restrict(
        face_ids=face_ids, request_reference=request.reference, actor=actor
    )
    _audit(request, "restricted_pending_proof", actor=actor, faces=restricted)
    return restricted


def _restriction_release(
    request: SubjectRequest, *, face_ids: Sequence[int], actor: Any, reason: str
) -> int:
    """Lift the pending restriction this request caused on these faces, unless another reason keeps it: another
    open erasure/objection/restriction request that located them, or a completed restriction (Art 18); what must
    stay out of every search (a hold, an excluded jurisdiction) the stewardship keeps."""

    if request.type not in DECIDE_FIRST or request.verified_at is None or not face_ids:
        return 0
    others = (
        Candidate.objects.filter(face_ref__in=list(face_ids))
        .exclude(request=request)
        .exclude(status=Candidate.Status.REJECTED)
    )
    keep = set(
        others.filter(
            request__type__in=list(DECIDE_FIRST),
            request__status__in=[
                S.VERIFIED,
                S.IN_REVIEW,
                S.AWAITING_CLARIFICATION,
                S.APPROVED,
                S.PROCESSING,
            ],
        ).values_list("face_ref", flat=True)
    ) | set(
        others.filter(
            request__type=RequestType.RESTRICTION,
            request__status=S.COMPLETED,
            status=Candidate.Status.CONFIRMED,
        ).values_list("face_ref", flat=True)
    )
    lift = [f for f in face_ids if f not in keep]
    outcome = stewardship.faces_restrict_lift(
        face_ids=lift, request_reference=request.reference, actor=actor, reason=reason
    )
    _audit(
        request,
        "pending_restriction_lifted",
        actor=actor,
        faces=outcome.lifted,
        kept=len(keep) + outcome.kept,
        reason=reason,
    )
    return outcome.lifted


def _do_restriction(request: SubjectRequest, actor: Any = None, **_: Any) -> dict[str, Any]:

    face_ids = list(_confirmed_faces(request).values_list("pk", flat=True))
    stewardship.faces_restrict(face_ids=face_ids, request_reference=request.reference, actor=actor)
    # Most were already restricted when the email was verified (pending the proof): count them all.
    restricted = Face.objects.filter(pk__in=face_ids, status=Face.Status.RESTRICTED).count()
    _email(request, "restricted", gettext_lazy("Your photos are restricted"), count=restricted)
    return {"restricted": restricted}


@transaction.atomic
def restriction_lift(
    *, request: SubjectRequest, actor: Any, reason: str, ip: str | None = None
) -> int:
    """Lift a restriction: the requester is told first (Art 18(3)), then the faces become searchable,
    except those that must stay out of every search (search.stewardship.faces_restrict_lift)."""

    if request.type != RequestType.RESTRICTION or request.status != S.COMPLETED:
        raise ValidationError("Only a completed restriction can be lifted.")
    if not reason.strip():
        raise ValidationError(
            "Give the reason; the requester is told before the restriction is lifted."
        )
    _email(
        request,
        "restriction_lifted",
        gettext_lazy("Your restriction is being lifted"),
        reason=reason.strip(),
    )
    face_ids = list(_confirmed_faces(request).values_list("pk", flat=True))
    outcome = stewardship.faces_restrict_lift(
        face_ids=face_ids, request_reference=request.reference, actor=actor, reason=reason
    )
    _audit(
        request,
        "restriction_lifted",
        actor=actor,
        ip=ip,
        faces=outcome.lifted,
        kept_restricted=outcome.kept,
        reason=reason.strip()[:300],
    )
    return outcome.lifted
