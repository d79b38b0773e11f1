"""The DPO's workflow: transitions, clarifications, extensions, lapsing, and carrying out a request."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from subjects import clock
from subjects.identity import identity_proven
from subjects.models import (
    Candidate,
    Clarification,
    RequestType,
    SubjectRequest,
)
from subjects.services.access import _do_access
from subjects.services.candidates import _locate, selfie_analyse
from subjects.services.common import DECIDE_FIRST, _audit, _located_face_ids
from subjects.services.erasure import _do_complaint, _do_erasure, _do_objection, _do_rectification
from subjects.services.notify import _email
from subjects.services.restriction import _do_restriction, _restrict_pending, _restriction_release

S = SubjectRequest.Status


def requests_lapse(*, now: Any = None) -> int:
    """Requests never confirmed lapse after SUBJECT_VERIFICATION_LAPSE_DAYS, with a notice."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.SUBJECT_VERIFICATION_LAPSE_DAYS)
    lapsed = 0
    for request in SubjectRequest.objects.filter(
        status=S.AWAITING_VERIFICATION, received_at__lt=cutoff
    ):
        with transaction.atomic():
            request.status, request.completed_at = S.LAPSED, timezone.now()
            request.save(update_fields=["status", "completed_at"])
            _restriction_release(
                request, face_ids=_located_face_ids(request), actor=None, reason="request lapsed"
            )
            request.candidates.all().delete()
            request.template = None
            request.save(update_fields=["template"])
            _audit(request, "lapsed")
            _email(request, "lapsed", gettext_lazy("Your request was not confirmed"))
        lapsed += 1
    return lapsed


TRANSITIONS: dict[str, tuple[set[str], str]] = {
    "ask_clarification": ({S.IN_REVIEW}, S.AWAITING_CLARIFICATION),
    "resume": ({S.AWAITING_CLARIFICATION}, S.IN_REVIEW),
    "approve": ({S.IN_REVIEW}, S.APPROVED),
    "deny": ({S.IN_REVIEW, S.APPROVED}, S.DENIED),
    "withdraw": (
        {S.AWAITING_VERIFICATION, S.VERIFIED, S.IN_REVIEW, S.AWAITING_CLARIFICATION, S.APPROVED},
        S.WITHDRAWN,
    ),
}


@transaction.atomic
def request_transition(
    *, request: SubjectRequest, action: str, actor: Any, reason: str = "", ip: str | None = None
) -> SubjectRequest:
    """Move a request along its state machine; illegal transitions are refused."""
    if action not in TRANSITIONS:
        raise ValidationError(f"Unknown action {action!r}.")
    request = SubjectRequest.objects.select_for_update().get(pk=request.pk)
    sources, target = TRANSITIONS[action]
    if request.status not in sources:
        raise ValidationError(
            f"A request that is '{request.get_status_display()}' cannot be {action.replace('_', ' ')}d."
        )
    if action in ("ask_clarification", "deny") and not reason.strip():
        raise ValidationError("Give the reason; the requester receives it.")
    before = request.status
    if action == "ask_clarification":
        request.paused_at, request.pause_reason = timezone.now(), reason.strip()
        Clarification.objects.create(
            request=request,
            question=reason.strip(),
            asked_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        _email(
            request,
            "clarification",
            gettext_lazy("We need a detail from you"),
            question=reason.strip(),
        )
    if (
        action == "resume"
    ):  # the answer came another way (email to the DPO, post): the question is closed
        _resume_clock(request)
        request.clarifications.filter(answered_at__isnull=True).update(answered_at=timezone.now())
    if action == "withdraw":
        request.completed_at = timezone.now()
    if action == "deny":
        request.decision_reason, request.completed_at = reason.strip(), timezone.now()
        _email(request, "denied", gettext_lazy("Decision on your request"), reason=reason.strip())
    request.status = target
    request.handled_by = actor if getattr(actor, "is_authenticated", False) else request.handled_by
    request.save()
    _audit(request, action, actor=actor, ip=ip, before=before, reason=reason.strip()[:500])
    if action in ("deny", "withdraw"):
        _restriction_release(
            request, face_ids=_located_face_ids(request), actor=actor, reason=f"request {action}"
        )
    return request


def _resume_clock(request: SubjectRequest) -> int:
    """End a pause: the due date moves by the days the clock stood still."""
    paused = (
        max(0, (timezone.localdate() - timezone.localdate(request.paused_at)).days)
        if request.paused_at
        else 0
    )
    request.paused_days += paused
    request.due_date = clock.after_pause(request.due_date, paused)
    request.paused_at = None
    return paused


def clarification_answer(
    *,
    request: SubjectRequest,
    answer: str = "",
    urls: Sequence[str] = (),
    selfie: bytes | None = None,
    ip: str | None = None,
) -> Clarification:
    """The requester answers the DPO's question on their status page, with text, a new selfie (in memory
    only, processed like the intake selfie) or addresses. The pause ends by itself, audited."""
    clean_urls = [u.strip() for u in urls if u.strip()]
    errors: dict[str, str] = {}
    for u in clean_urls:
        try:
            URLValidator(schemes=["http", "https"])(u)
        except ValidationError:
            errors["urls"] = _("Not a web address: %(address)s") % {"address": u[:100]}
    if not answer.strip() and not clean_urls and not selfie:
        errors["answer"] = _(
            "Write your answer, send a photo of your face or give the addresses of pages showing you."
        )
    if errors:
        raise ValidationError(errors)
    analysis = (
        selfie_analyse(selfie=selfie) if selfie else None
    )  # ImageRejected propagates: nothing written yet
    with transaction.atomic():
        request = SubjectRequest.objects.select_for_update().get(pk=request.pk)
        if request.status != S.AWAITING_CLARIFICATION:
            raise ValidationError(_("This request is not waiting for an answer from you."))
        question = request.clarifications.filter(answered_at__isnull=True).last()
        if question is None:  # asked before answers were recorded in the app
            question = Clarification.objects.create(
                request=request,
                question=request.pause_reason,
                asked_at=request.paused_at or timezone.now(),
            )
        found = (
            _locate(request, analysis, urls=clean_urls, found_by="answer")
            if (analysis or clean_urls)
            else 0
        )
        if found:
            _restrict_pending(request)  # what the answer locates is hidden too, pending the proof
        question.answer, question.answer_urls = answer.strip()[:5000], clean_urls[:20]
        question.answer_selfie_faces = len(analysis.faces) if analysis is not None else None
        question.answer_candidates, question.answered_at = found, timezone.now()
        question.save()
        request.urls = list(dict.fromkeys([*request.urls, *clean_urls]))[:40]
        before = request.status
        paused = _resume_clock(request)
        request.status = S.IN_REVIEW
        request.save()
        _audit(
            request,
            "clarification_answered",
            ip=ip,
            before=before,
            with_selfie=analysis is not None,
            urls=len(clean_urls),
            candidates=found,
        )
        _audit(request, "resume", ip=ip, before=before, paused_days=paused, by="requester_answer")
    del selfie, analysis  # nothing of the photo outlives this call
    return question


@transaction.atomic
def request_extend(
    *, request: SubjectRequest, months: int, reason: str, actor: Any, ip: str | None = None
) -> SubjectRequest:
    """Extend by one or two further months; only once, with reasons, told before the first month ends."""
    request = SubjectRequest.objects.select_for_update().get(pk=request.pk)
    if request.extended:
        raise ValidationError("This request was already extended.")
    if not request.is_open:
        raise ValidationError("Only an open request can be extended.")
    if timezone.localdate() > request.original_due_date:
        raise ValidationError(
            "Too late: an extension must be sent to the requester before the first month ends."
        )
    if not reason.strip():
        raise ValidationError("Give the reasons for the extension; the requester receives them.")
    request.extended, request.extension_reason, request.extended_at = (
        True,
        reason.strip(),
        timezone.now(),
    )
    request.due_date = clock.after_pause(
        clock.extended_due(timezone.localdate(request.received_at), months), request.paused_days
    )
    request.save()
    _email(
        request,
        "extended",
        gettext_lazy("We need more time for your request"),
        reason=reason.strip(),
    )
    _audit(request, "extended", actor=actor, ip=ip, months=months, due=str(request.due_date))
    return request


def request_execute(
    *, request: SubjectRequest, actor: Any, ip: str | None = None, rectified_jurisdiction: str = ""
) -> SubjectRequest:
    """Carry out an approved request (processing → completed)."""
    with transaction.atomic():
        request = SubjectRequest.objects.select_for_update().get(pk=request.pk)
        if request.status != S.APPROVED:
            raise ValidationError("Only an approved request can be carried out.")
        undecided = request.candidates.filter(
            status=Candidate.Status.PROPOSED, face__isnull=False
        ).count()
        if undecided and request.type in DECIDE_FIRST:
            raise ValidationError(
                f"{undecided} candidate face{'s are' if undecided != 1 else ' is'} still undecided: confirm or reject "
                f"{'each' if undecided != 1 else 'it'} before carrying out the request, so that none of the requester's "
                "photos is left out."
            )
        if request.type in DECIDE_FIRST and not identity_proven(request=request):
            raise ValidationError(
                "The requester is not yet shown to be the person: erasure, objection and restriction are irreversible and "
                "wait for an accepted proof (the live capture, or another method recorded by the DPO). Their photos stay "
                "hidden from every search meanwhile."
            )
        request.status = S.PROCESSING
        request.save(update_fields=["status"])
        _audit(request, "processing", actor=actor, ip=ip)
    handler = {
        RequestType.ACCESS: _do_access,
        RequestType.ERASURE: _do_erasure,
        RequestType.OBJECTION: _do_objection,
        RequestType.RESTRICTION: _do_restriction,
        RequestType.RECTIFICATION: _do_rectification,
        RequestType.COMPLAINT: _do_complaint,
    }[RequestType(request.type)]
    with transaction.atomic():
        outcome = handler(request, actor=actor, rectified_jurisdiction=rectified_jurisdiction)
        request.status, request.completed_at = S.COMPLETED, timezone.now()
        request.template = None  # a consented template now lives in the suppression list only
        request.save()
        _audit(request, "completed", actor=actor, ip=ip, **outcome)
    return request
