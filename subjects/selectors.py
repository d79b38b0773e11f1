"""Reads for data-subject requests: timelines, links, notices.

The suppression list moved beside ingestion (search.suppression); its selectors are re-exported
here for callers not yet switched over.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from search.suppression import suppression_hash, suppression_match, template_suppresses  # noqa: F401 (re-exports)
from subjects.models import AccessPackage, SubjectRequest


def dpo_required(*, user: object) -> None:
    """The one check that ``user`` may work data-subject requests (the DPO's permission): views, the capture
    review, withholdings and the identity decision all ask it. Raises PermissionDenied otherwise."""
    if (
        user is None
        or not getattr(user, "is_authenticated", False)
        or not user.has_perm("accounts.work_subject_requests")  # type: ignore[attr-defined]
    ):
        raise PermissionDenied


def organisation_notice_list(*, organisation_id: int, limit: int = 10) -> list[object]:
    """Art 19 notices for a customer organisation, newest first."""
    from subjects.models import OrganisationNotice

    return list(OrganisationNotice.objects.filter(organisation_id=organisation_id)[:limit])


@dataclass(frozen=True)
class TimelineStep:
    """One line of the requester's timeline: what happened (or is due) and when."""

    key: str
    label: str
    when: datetime | date | None
    detail: str = ""
    current: bool = False


_OUTCOMES = {
    "access": gettext_lazy(
        "Your copy of the data we hold about you was prepared; the download link was emailed to you."
    ),
    "erasure": gettext_lazy("Your photos were erased, with every copy and derived template."),
    "objection": gettext_lazy("Your photos were erased and put on our do-not-collect list."),
    "restriction": gettext_lazy("Your photos are restricted: kept, but never shown in any search."),
    "rectification": gettext_lazy("Your data was corrected."),
    "complaint": gettext_lazy("We answered your complaint by email."),
}


def _held_note(request: SubjectRequest) -> str:
    """After an erasure or objection: the photos a legal obligation keeps for now (Art 17(3)(e)), as in the email."""
    from django.utils.translation import ngettext

    receipt = (
        getattr(request, "erasure_receipt", None)
        if request.type in ("erasure", "objection")
        else None
    )
    held = int(receipt.counts.get("held_images", 0)) if receipt is not None else 0
    if not held:
        return ""
    return " " + ngettext(
        "We must keep %(held)s photo for now, because a legal obligation requires us to preserve it (Art 17(3)(e) GDPR). "
        "Until then it is never shown in any search, and we will erase it as soon as that obligation ends.",
        "We must keep %(held)s photos for now, because a legal obligation requires us to preserve them (Art 17(3)(e) GDPR). "
        "Until then they are never shown in any search, and we will erase them as soon as that obligation ends.",
        held,
    ) % {"held": held}


def request_timeline(*, request: SubjectRequest) -> list[TimelineStep]:
    """The public status page's timeline: received, confirmed, in review, each question asked and answered,
    an extension with its reason, and the end (completed, refused, withdrawn or lapsed)."""
    S = SubjectRequest.Status
    steps = [TimelineStep("received", _("We received your request"), request.received_at)]
    if request.verified_at:
        steps.append(
            TimelineStep("confirmed", _("You confirmed your email address"), request.verified_at)
        )
        steps.append(
            TimelineStep(
                "in_review", _("Our data-protection officer is reviewing it"), request.verified_at
            )
        )
    elif request.status == S.AWAITING_VERIFICATION:
        steps.append(
            TimelineStep(
                "confirm",
                _("Waiting for you to confirm: open the link we emailed you"),
                None,
                current=True,
            )
        )
    events: list[TimelineStep] = []
    for question in request.clarifications.all():
        events.append(
            TimelineStep(
                "waiting",
                _("We asked you a question (the deadline is paused)"),
                question.asked_at,
                question.question,
                current=question.answered_at is None and request.is_open,
            )
        )
        if question.answered_at:
            answered_here = bool(
                question.answer or question.answer_urls or question.answer_selfie_faces is not None
            )
            label = (
                _("You answered; the deadline runs again")
                if answered_here
                else _("The deadline runs again")
            )
            events.append(TimelineStep("answered", label, question.answered_at))
    if request.extended:
        events.append(
            TimelineStep(
                "extended",
                _("We extended the deadline"),
                request.extended_at,
                request.extension_reason,
            )
        )
    steps += sorted(events, key=lambda s: s.when or request.received_at)
    end = {
        S.COMPLETED: ("completed", _("Completed"), str(_OUTCOMES.get(request.type, ""))),
        S.DENIED: ("denied", _("We refused your request"), request.decision_reason),
        S.WITHDRAWN: ("withdrawn", _("You withdrew your request"), ""),
        S.LAPSED: ("lapsed", _("Closed: the email address was never confirmed"), ""),
    }.get(S(request.status))
    if end:
        steps.append(
            TimelineStep(end[0], end[1], request.completed_at, end[2] + _held_note(request))
        )
    elif request.status in (S.APPROVED, S.PROCESSING):
        steps.append(
            TimelineStep("approved", _("Approved: we are carrying it out"), None, current=True)
        )
    return steps


def verification_by_token(*, token: str) -> tuple[SubjectRequest | None, bool]:
    """Read-only look-up of an emailed confirmation link: (request, still usable). A GET on the link
    must change nothing (mail scanners follow links), so this only reads."""
    from django.utils import timezone

    from subjects.models import VerificationToken

    digest = hashlib.sha256(token.encode()).hexdigest()
    row = VerificationToken.objects.select_related("request").filter(token_hash=digest).first()
    if row is None:
        return None, False
    usable = row.used_at is None and row.expires_at > timezone.now()
    return row.request, usable and row.request.status == SubjectRequest.Status.AWAITING_VERIFICATION


def access_package_by_token(*, token: str) -> AccessPackage | None:
    """The package behind a download link, if the link still works (read-only: GET counts nothing)."""
    from django.utils import timezone

    digest = hashlib.sha256(token.encode()).hexdigest()
    return (
        AccessPackage.objects.select_related("request")
        .filter(token_hash=digest, deleted_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )


@dataclass(frozen=True)
class RestrictedMatch:
    face_id: int
    distance: float


def restricted_face_match_list(
    *, embedding: list[float], model: str, limit: int, max_distance: float
) -> list[RestrictedMatch]:
    """Restricted faces near an embedding, for locating a requester's own photos only (never a search): a face
    already hidden by an earlier restriction, or by a pending erasure/objection of the same person, must still be
    found by their next request. Restricted faces are few, so an exact scan is fine."""
    from pgvector.django import CosineDistance

    from search.models import Face

    rows = (
        Face.objects.filter(status=Face.Status.RESTRICTED, model=model, embedding__isnull=False)
        .annotate(distance=CosineDistance("embedding", embedding))
        .filter(distance__lte=max_distance)
        .order_by("distance")
        .values_list("pk", "distance")[:limit]
    )
    return [RestrictedMatch(face_id=pk, distance=float(d)) for pk, d in rows]
