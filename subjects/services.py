"""Writes for data-subject requests: intake, verification, locating faces, the DPO's workflow,
and carrying out access, erasure, objection, restriction, rectification and complaints.

Every transition is audited (the requester appears only as a keyed pseudonym). Selfies are
processed in memory and never stored or logged.
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import zipfile
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.mail import send_mail
from django.core.validators import URLValidator, validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from compliance.outbox import email_enqueue
from compliance.services import AuditEntry, audit_record, audit_record_many, subject_pseudonym
from config import ratelimit
from subjects import clock
from subjects.abuse import abuse_check, abuse_signal_open_count, email_normalise
from subjects.identity import identity_proven
from subjects.models import (
    AccessPackage,
    Candidate,
    Clarification,
    ErasureReceipt,
    OrganisationNotice,
    RequestType,
    SubjectRequest,
    VerificationToken,
)
from subjects.selectors import restricted_face_match_list

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

    from search.stewardship import ErasureOutcome

S = SubjectRequest.Status


class RequestRefused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _url(name: str, *args: object) -> str:
    return settings.SITE_URL.rstrip("/") + reverse(name, args=args)


def _status_token(reference: str) -> str:
    """The secret of a request's status page, derived from the reference with the secret key, so that
    every email (not only the first) can carry the link; only its SHA-256 is stored."""
    return salted_hmac("subjects.status-page", reference, algorithm="sha256").hexdigest()[:40]


def status_link(request: SubjectRequest) -> str:
    return _url("subjects:status", request.reference, _status_token(request.reference))


def regulator_text() -> str:
    """Where to complain, in the active language (subjects.public_labels owns the wording)."""
    from subjects.public_labels import regulator_text as text

    return text()


def request_language(request: SubjectRequest) -> str:
    """The language of everything sent to the person: the one they filed in, if it is still offered."""
    offered = {code for code, _name in settings.LANGUAGES}
    return request.language if request.language in offered else settings.LANGUAGE_CODE


def _email(request: SubjectRequest, template: str, subject: StrOrPromise, **context: Any) -> None:
    """Email the person in their request's language, whoever triggers it (the DPO in English, a worker)."""
    with translation.override(request_language(request)):
        body = render_to_string(
            f"subjects/email/{template}.txt",
            {
                "req": request,
                "dpo_email": settings.DPO_EMAIL,
                "regulator": regulator_text(),
                "status_link": status_link(request),
                "notice_link": _url("subjects:notice"),
                **context,
            },
        )
        email_enqueue(to=[request.email], subject=f"[{request.reference}] {subject}", body=body)


def _audit_entry(
    request: SubjectRequest, action: str, actor: Any = None, ip: str | None = None, **details: Any
) -> AuditEntry:
    return AuditEntry(
        actor=actor,
        action=f"subjects.request.{action}",
        target=request,
        outcome="success",
        ip=ip,
        details={
            "reference": request.reference,
            "type": request.type,
            "subject": subject_pseudonym(request.email),
            "status": request.status,
            **details,
        },
    )


def _audit(
    request: SubjectRequest, action: str, actor: Any = None, ip: str | None = None, **details: Any
) -> None:
    audit_record_many(entries=[_audit_entry(request, action, actor, ip, **details)])


def _rate_limit(*, ip: str | None, email: str) -> None:
    for key, limit in (
        (f"dsr-ip:{ip}", settings.SUBJECT_REQUESTS_PER_IP_PER_HOUR),
        (
            f"dsr-email:{subject_pseudonym(email_normalise(email))}",
            settings.SUBJECT_REQUESTS_PER_EMAIL_PER_HOUR,
        ),
    ):
        if not ratelimit.hit(key=key, limit=limit, window_seconds=3600):
            raise RequestRefused(
                _(
                    "Too many requests from here in the last hour. Please try again later, or write to "
                    "%(dpo_email)s; the deadline runs from when we receive your message."
                )
                % {"dpo_email": settings.DPO_EMAIL}
            )


# --- Intake and verification --------------------------------------------------------------


def request_submit(
    *,
    type: str,
    email: str,
    details: str = "",
    urls: Sequence[str] = (),
    correction: str = "",
    selfie: bytes | None = None,
    consent_keep_template: bool = False,
    ip: str | None = None,
    language: str = "",
) -> tuple[SubjectRequest, str]:
    """File a request (no account). The clock starts now; a confirmation link is emailed.

    ``language`` (default: the active one) is stored, and every email to the person uses it.
    Returns the request and the secret for its status page. The selfie, if any, is analysed in
    memory to find candidate faces, then dropped (kept as a template only with explicit consent).
    """
    errors: dict[str, str] = {}
    if type not in RequestType.values:
        errors["type"] = _("Choose the kind of request.")
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = _("Give an email address where we can reach you.")
    clean_urls = [u.strip() for u in urls if u.strip()]
    for u in clean_urls:
        try:
            URLValidator(schemes=["http", "https"])(u)
        except ValidationError:
            errors["urls"] = _("Not a web address: %(address)s") % {"address": u[:100]}
    if type == RequestType.RECTIFICATION and not correction.strip():
        errors["correction"] = _("Say what is wrong and what it should say.")
    if errors:
        raise ValidationError(errors)
    _rate_limit(ip=ip, email=email)
    analysis = (
        selfie_analyse(selfie=selfie) if selfie else None
    )  # ImageRejected propagates: nothing written yet
    try:
        language = translation.get_supported_language_variant(
            language or translation.get_language() or ""
        )
    except LookupError:
        language = settings.LANGUAGE_CODE
    reference = "R-" + secrets.token_hex(4).upper()
    status_token, verify_token = _status_token(reference), secrets.token_urlsafe(32)
    today = timezone.localdate()
    with transaction.atomic():
        request = SubjectRequest.objects.create(
            reference=reference,
            type=type,
            email=email.strip().lower(),
            details=details.strip()[:5000],
            urls=clean_urls[:20],
            correction=correction.strip()[:2000],
            due_date=clock.due_on_receipt(today),
            original_due_date=clock.due_on_receipt(today),
            status_token_hash=_hash(status_token),
            consent_keep_template=consent_keep_template and type == RequestType.OBJECTION,
            language=language,
        )
        VerificationToken.objects.create(
            request=request,
            token_hash=_hash(verify_token),
            expires_at=timezone.now() + timedelta(hours=settings.SUBJECT_VERIFICATION_HOURS),
        )
        _audit(request, "received", ip=ip, with_selfie=bool(selfie), urls=len(clean_urls))
        _locate(request, analysis)
        _email(
            request,
            "verify",
            gettext_lazy("Please confirm your request"),
            link=_url("subjects:verify", verify_token),
            verification_hours=settings.SUBJECT_VERIFICATION_HOURS,
        )
    del selfie, analysis  # nothing of the photo outlives this call
    return request, status_token


def selfie_analyse(*, selfie: bytes) -> Any:
    """Decode and analyse a selfie in memory. A photo without one usable face is refused with a reason the
    person can act on (ImageRejected), so that no request is filed on a selfie that can find nothing."""
    from search import engine

    analysis = engine.analyse(engine.decode_image(selfie))
    if not analysis.faces:
        if analysis.rejected:
            raise engine.ImageRejected(
                "face_too_small",
                _(
                    "The face in this photo is too small for us to use. Send a closer photo where your face fills more "
                    "of the picture, or leave the photo out and give the addresses of pages showing you."
                ),
            )
        raise engine.ImageRejected(
            "no_face",
            _(
                "We found no face in this photo. Send a clear photo of your face, looking at the camera, or leave the "
                "photo out and give the addresses of pages showing you."
            ),
        )
    return analysis


def _match_bands(model: str) -> tuple[float, float]:
    """The candidate thresholds: strict (likely the person) and loose (the DPO's review band, toward recall).

    Both are operating points of the calibration for the live index size (search/calibration.json);
    SUBJECT_STRICT_FACTOR / SUBJECT_BORDERLINE_FACTOR (default 1) scale them.
    """
    from search.calibration import calibration_for, index_size

    calibration, size = calibration_for(model), index_size(model)
    strict = calibration.threshold_for(size, point="strict") * settings.SUBJECT_STRICT_FACTOR
    loose = calibration.threshold_for(size, point="candidate") * settings.SUBJECT_BORDERLINE_FACTOR
    return strict, max(strict, loose)


def _locate(
    request: SubjectRequest,
    analysis: Any,
    *,
    urls: Sequence[str] | None = None,
    found_by: str = "selfie",
) -> int:
    """Candidates from the selfie's main face (strict and borderline bands) and from the URLs given."""
    from search.models import Face
    from search.selectors import face_match_list

    count = 0
    if analysis is not None and analysis.faces:
        face = max(analysis.faces, key=lambda f: f.box[2] * f.box[3])
        request.selfie_faces = len(analysis.faces)
        strict, loose = _match_bands(face.model)
        matches = (
            face_match_list(
                embedding=face.embedding.tolist(),
                model=face.model,
                limit=settings.SUBJECT_LOCATE_LIMIT,
                max_distance=loose,
            )
            + restricted_face_match_list(
                embedding=face.embedding.tolist(),
                model=face.model,
                limit=settings.SUBJECT_LOCATE_LIMIT,
                max_distance=loose,
            )
        )  # the person's photos already hidden (an earlier restriction, a pending request) are theirs to act on too
        for match in matches:
            count += Candidate.objects.get_or_create(
                request=request,
                face_ref=match.face_id,
                defaults={
                    "face_id": match.face_id,
                    "distance": match.distance,
                    "borderline": match.distance > strict,
                    "found_by": found_by,
                },
            )[1]
        if (
            request.consent_keep_template and request.template is None
        ):  # the intake selfie's; answers add candidates
            request.template, request.template_model = face.embedding.tolist(), face.model
        request.save(update_fields=["selfie_faces", "template", "template_model"])
    urls = request.urls if urls is None else urls
    if urls:
        faces = Face.objects.filter(image__page_url__in=urls) | Face.objects.filter(
            image__image_url__in=urls
        )
        for face in faces.distinct():
            # A photo at that URL may show several people: each face is a borderline candidate for the DPO.
            count += Candidate.objects.get_or_create(
                request=request,
                face_ref=face.pk,
                defaults={
                    "face": face,
                    "borderline": True,
                    "found_by": "url" if found_by == "selfie" else found_by,
                },
            )[1]
    if count:
        _audit(request, "candidates_found", candidates=count, found_by=found_by)
    abuse_check(
        request=request
    )  # several addresses for one face, several faces for one address, address variants
    return count


def candidates_expand(*, request: SubjectRequest) -> int:
    """Propose further candidates near every confirmed face not looked at yet (same bands as the selfie).

    Called whenever the DPO confirms faces, so the search repeats as they confirm what it found, until a
    round finds nothing new, within SUBJECT_EXPANSION_MAX_ROUNDS rounds and SUBJECT_EXPANSION_MAX_CANDIDATES
    candidates per request. Only confirmed faces seed a round: a proposal never proposes on its own.
    """
    from search.models import Face
    from search.selectors import face_match_list

    request = SubjectRequest.objects.select_for_update().get(pk=request.pk)
    seeds = list(
        request.candidates.filter(
            status=Candidate.Status.CONFIRMED, expanded=False, face__isnull=False
        )
    )
    if not seeds or request.expansion_rounds >= settings.SUBJECT_EXPANSION_MAX_ROUNDS:
        return 0
    room = settings.SUBJECT_EXPANSION_MAX_CANDIDATES - request.candidates.count()
    faces = {
        f.pk: f
        for f in Face.objects.filter(pk__in=[c.face_ref for c in seeds], embedding__isnull=False)
    }
    added = 0
    for seed in seeds:
        face = faces.get(seed.face_ref)
        if face is not None and room > 0:
            strict, loose = _match_bands(face.model)
            matches = face_match_list(
                embedding=list(face.embedding),
                model=face.model,
                limit=settings.SUBJECT_LOCATE_LIMIT,
                max_distance=loose,
            ) + restricted_face_match_list(
                embedding=list(face.embedding),
                model=face.model,
                limit=settings.SUBJECT_LOCATE_LIMIT,
                max_distance=loose,
            )
            for match in matches:
                if room <= 0:
                    break
                _, new = Candidate.objects.get_or_create(
                    request=request,
                    face_ref=match.face_id,
                    defaults={
                        "face_id": match.face_id,
                        "distance": match.distance,
                        "borderline": match.distance > strict,
                        "found_by": "expansion",
                        "near_face_ref": seed.face_ref,
                    },
                )
                added += new
                room -= new
        seed.expanded = True
        seed.save(update_fields=["expanded"])
    if added:
        request.expansion_rounds += 1
        request.save(update_fields=["expansion_rounds"])
        _audit(
            request,
            "candidates_expanded",
            candidates=added,
            seeds=len(seeds),
            round=request.expansion_rounds,
        )
        if request.verified_at is not None and request.is_open:
            _restrict_pending(request)
    return added


def request_verify(*, token: str, ip: str | None = None) -> SubjectRequest:
    """The emailed link: single use, expiring. Moves the request into the DPO's review."""
    with transaction.atomic():
        row = (
            VerificationToken.objects.select_for_update()
            .select_related("request")
            .filter(token_hash=_hash(token))
            .first()
        )
        if row is None or row.used_at is not None or row.expires_at <= timezone.now():
            raise RequestRefused(_("This link has expired or was already used."))
        request = SubjectRequest.objects.select_for_update().get(pk=row.request_id)
        if request.status != S.AWAITING_VERIFICATION:
            raise RequestRefused(_("This request was already confirmed or has closed."))
        row.used_at = timezone.now()
        row.save(update_fields=["used_at"])
        request.status, request.verified_at = S.IN_REVIEW, timezone.now()
        if request.type == RequestType.COMPLAINT:
            request.acknowledged_at = timezone.now()
        request.save()
        _audit(request, "verified", ip=ip, method="email_link")
        abuse_check(request=request)
        held = _restrict_pending(request)
        _email(request, "received", gettext_lazy("We have your request"), hidden=held)
    return request


# --- Proof pending: the located faces are hidden at once, reversibly ------------------------------------


def _located_face_ids(
    request: SubjectRequest, *, statuses: Sequence[str] | None = None
) -> list[int]:
    rows = request.candidates.filter(face__isnull=False)
    if statuses is not None:
        rows = rows.filter(status__in=list(statuses))
    return sorted(set(rows.values_list("face_ref", flat=True)))


def _restrict_pending(request: SubjectRequest, *, actor: Any = None) -> int:
    """Erasure, objection, restriction: the faces the request locates are restricted (never returned by a search)
    from the moment the email is verified, while the proof that the requester is the person is pending. Reversible:
    the restriction this request caused is lifted if it is refused, withdrawn or a candidate rejected."""
    from search import stewardship

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
    from search import stewardship

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


def access_request_by_token(*, reference: str, token: str) -> SubjectRequest:
    """The requester's own request (reference plus the secret from their email); 404 otherwise."""
    from django.http import Http404

    request = SubjectRequest.objects.filter(reference=reference).first()
    if request is None:
        raise Http404
    # Requests filed before the secret was derived from the reference keep their random one; both open the page.
    stored = secrets.compare_digest(request.status_token_hash, _hash(token))
    if not stored and not secrets.compare_digest(_status_token(reference), token):
        raise Http404
    return request


# --- The DPO's workflow -------------------------------------------------------------------


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


@transaction.atomic
def candidate_decide(
    *, candidate: Candidate, confirm: bool, actor: Any, ip: str | None = None
) -> Candidate:
    """Confirm or reject one candidate; a confirmation looks for further candidates near that face."""
    candidate = Candidate.objects.select_for_update().select_related("request").get(pk=candidate.pk)
    if not candidate.request.is_open:
        raise ValidationError("The request is closed.")
    candidate.status = Candidate.Status.CONFIRMED if confirm else Candidate.Status.REJECTED
    candidate.save(update_fields=["status"])
    _audit(
        candidate.request,
        "candidate_confirmed" if confirm else "candidate_rejected",
        actor=actor,
        ip=ip,
        face=candidate.face_ref,
    )
    if confirm:
        candidates_expand(request=candidate.request)
    else:
        _restriction_release(
            candidate.request,
            face_ids=[candidate.face_ref],
            actor=actor,
            reason="candidate rejected",
        )
    return candidate


@transaction.atomic
def candidates_decide(
    *,
    request: SubjectRequest,
    candidate_ids: Sequence[int],
    confirm: bool,
    actor: Any,
    ip: str | None = None,
) -> int:
    """ "Confirm all shown" / "reject all shown": the proposals the DPO saw on the page, in one step."""
    request = SubjectRequest.objects.select_for_update().get(pk=request.pk)
    if not request.is_open:
        raise ValidationError("The request is closed.")
    shown = request.candidates.select_for_update().filter(
        pk__in=list(candidate_ids), face__isnull=False
    )
    rows = list(shown.filter(status=Candidate.Status.PROPOSED))
    if not rows:
        raise ValidationError("No proposed candidate was shown; nothing changed.")
    status = Candidate.Status.CONFIRMED if confirm else Candidate.Status.REJECTED
    Candidate.objects.filter(pk__in=[c.pk for c in rows]).update(status=status)
    action = "candidate_confirmed" if confirm else "candidate_rejected"
    _audit(request, action, actor=actor, ip=ip, faces=sorted(c.face_ref for c in rows), bulk=True)
    if confirm:
        candidates_expand(request=request)
    else:
        _restriction_release(
            request, face_ids=[c.face_ref for c in rows], actor=actor, reason="candidates rejected"
        )
    return len(rows)


# Requests that change the person's photos: every candidate must be decided before they are carried out.
DECIDE_FIRST = {RequestType.ERASURE, RequestType.OBJECTION, RequestType.RESTRICTION}


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


def _confirmed_faces(request: SubjectRequest) -> Any:
    from search.models import Face

    return Face.objects.filter(
        pk__in=request.candidates.filter(status=Candidate.Status.CONFIRMED).values("face_ref")
    )


# --- Access -----------------------------------------------------------------------------------


def _do_access(request: SubjectRequest, **_: Any) -> dict[str, Any]:
    package, token = access_package_build(request=request)
    second_tier = identity_proven(request=request)
    _email(
        request,
        "access_ready",
        gettext_lazy("Your data is ready to download"),
        link=_url("subjects:package", token),
        expires=package.expires_at,
        second_tier=second_tier,
        capture_link=_capture_link(request),
    )
    return {
        "package_sha256": package.sha256,
        "faces": _confirmed_faces(request).count(),
        "second_tier": second_tier,
    }


def _capture_link(request: SubjectRequest) -> str:
    """The person's way to the second tier: their status page, where the live capture starts."""
    return status_link(request)


# Whether we hold photos matching the selfie is first-tier information, told as a band, never an exact count:
# an exact count lets whoever holds someone's photo watch, request after request, for each new photo of them
# appearing anywhere (one more means "a new photo of the target was published"), and combined with other
# knowledge can single photos out. A band answers "do you hold me, and roughly how much" (Art 15(1)) without
# that.
PHOTO_BANDS = [(0, gettext_noop("none")), (5, gettext_noop("1–5")), (20, gettext_noop("6–20"))]  # noqa: RUF001
PHOTO_BAND_MORE = gettext_noop("more than 20")


def photo_count_band(count: int) -> str:
    """The band (English; the report translates it) a number of photos falls in."""
    for top, label in PHOTO_BANDS:
        if count <= top:
            return label
    return PHOTO_BAND_MORE


PACKAGE_SOURCES_GENERAL = gettext_noop(
    "Public web pages found by our crawler, and photo files imported by declared sources (the pages of yours are in "
    "the second part of your answer)."
)
PACKAGE_RECIPIENT_CATEGORIES = gettext_noop(
    "Customer organisations that run face searches for stated cases (which ones saw your photos is in the second part "
    "of your answer)."
)
PACKAGE_SECOND_TIER_HOW = gettext_noop(
    "Your photos, the pages they come from, when we saw them and which organisations saw them are released once it is "
    "shown that you are the person in them: a short live camera check from your status page, or, if you cannot or will "
    "not use a camera, another way with our data-protection officer (for example a video call). We never ask for an ID "
    "document by default. Write to the data-protection officer and we will send the rest."
)


# data.json stays in English (for machines); report.html shows these translated (the public_label filter).
PACKAGE_PURPOSES = [
    gettext_noop(
        "Face search for customer organisations' stated cases (purpose, lawful basis and case reference recorded "
        "for every search)"
    )
]
# What we hold: the photos' kind follows where the person's own photos came from (a web page, or a file a source
# imported); with no photo, both kinds are listed as what we would hold.
PACKAGE_CATEGORY_BY_ORIGIN = {
    "web_page": gettext_noop("photos from public web pages"),
    "imported_file": gettext_noop("photo files imported by a declared source"),
}
PACKAGE_CATEGORIES = [
    gettext_noop("face crops"),
    gettext_noop("biometric templates (embeddings) derived from them"),
    gettext_noop("page and image addresses and dates"),
]
PACKAGE_RIGHTS = [
    gettext_noop("rectification (Art 16)"),
    gettext_noop("erasure (Art 17)"),
    gettext_noop("restriction (Art 18)"),
    gettext_noop("objection (Art 21)"),
]
PACKAGE_AUTOMATED_DECISIONS = gettext_noop(
    "None: matches are suggestions reviewed by people; no decision about you is made automatically."
)


PACKAGE_WITHHELD = gettext_noop(
    "Some information is withheld under a legal restriction (Art 23 GDPR)."
)


def _image_origin(image: Any) -> str:
    """Where a photo came from, as the person is told: 'web_page' (found on a web page) or 'imported_file' (a file
    that a source imported: a local source, or a photo with no web address)."""
    from crawling.models import Source

    if image.source is not None and image.source.kind == Source.Kind.LOCAL:
        return "imported_file"
    return "web_page" if image.page_url or image.image_url else "imported_file"


def _package_json(request: SubjectRequest, *, second_tier: bool = True) -> str:
    """data.json. ``second_tier`` False (the requester is not shown to be the person): only what exposes nobody —
    purposes, categories, retention, rights, sources and recipients in general, how to complain, and whether we
    hold matching photos as a band; no photo, address, date or organisation."""
    from compliance.models import RetentionPolicy
    from search.models import SearchHit, SearchRequest
    from search.withholding import withheld_searches

    if not second_tier:
        held = _confirmed_faces(request).values("image_id").distinct().count()
        return json.dumps(
            {
                "request": request.reference,
                "generated_at": timezone.now().isoformat(),
                "confirmation": bool(held),
                "tier": "first",
                "photos_held": photo_count_band(held),
                "second_tier_how": PACKAGE_SECOND_TIER_HOW,
                "images": [],
                "purposes": PACKAGE_PURPOSES,
                "categories": list(PACKAGE_CATEGORY_BY_ORIGIN.values()) + PACKAGE_CATEGORIES,
                "recipients": [],
                "recipient_categories": [PACKAGE_RECIPIENT_CATEGORIES],
                "retention": [
                    {"data": p.get_data_class_display(), "days": p.period_days, "then": p.action}
                    for p in RetentionPolicy.objects.all()
                ],
                "sources": [],
                "sources_in_general": PACKAGE_SOURCES_GENERAL,
                "rights": [*PACKAGE_RIGHTS, f"complain to the regulator: {regulator_text()}"],
                "automated_decisions": PACKAGE_AUTOMATED_DECISIONS,
                "dpo": settings.DPO_EMAIL,
            },
            indent=2,
        )

    images, withheld = [], False
    for face in _confirmed_faces(request).select_related("image", "image__source"):
        # Only released results were received: a repeat search held for confirmation showed nothing.
        hits = (
            SearchHit.objects.filter(face=face, search__status=SearchRequest.Status.DONE)
            .select_related("search__organisation")
            .order_by("created_at")
        )
        # Art 23: a search under a restriction the DPO approved is not shown (search.withholding).
        withheld = withheld or hits.filter(search__in=withheld_searches()).exists()
        hits = hits.exclude(search__in=withheld_searches())
        # One entry per organisation, with every time it was shown the photo.
        shown: dict[str, list[str]] = {}
        for hit in hits:
            shown.setdefault(hit.search.organisation.name, []).append(hit.created_at.isoformat())
        # Provenance shows web links and an import's own file name, never a server path.
        images.append(
            {
                "face": face.pk,
                "thumbnail": f"faces/{face.pk}.jpg",
                **face.image.provenance.as_dict(),
                "origin": _image_origin(face.image),
                "first_seen": face.image.first_seen.isoformat(),
                "last_seen": face.image.last_seen.isoformat(),
                "status": face.status,
                "recipients": [
                    {"organisation": name, "times": times} for name, times in sorted(shown.items())
                ],
            }
        )
    origins = {i["origin"] for i in images} or set(PACKAGE_CATEGORY_BY_ORIGIN)
    return json.dumps(
        {
            "request": request.reference,
            "generated_at": timezone.now().isoformat(),
            "confirmation": bool(images),
            "tier": "second",
            "photos_held": photo_count_band(
                _confirmed_faces(request).values("image_id").distinct().count()
            ),
            "images": images,
            "purposes": PACKAGE_PURPOSES,
            "categories": [c for o, c in PACKAGE_CATEGORY_BY_ORIGIN.items() if o in origins]
            + PACKAGE_CATEGORIES,
            "recipients": sorted({r["organisation"] for i in images for r in i["recipients"]}),
            "retention": [
                {"data": p.get_data_class_display(), "days": p.period_days, "then": p.action}
                for p in RetentionPolicy.objects.all()
            ],
            # Art 15(1)(g): the sources of this person's photos, not every source we crawl.
            "sources": sorted({i["source"] for i in images}),
            "rights": [*PACKAGE_RIGHTS, f"complain to the regulator: {regulator_text()}"],
            "automated_decisions": PACKAGE_AUTOMATED_DECISIONS,
            "dpo": settings.DPO_EMAIL,
            **({"withheld": PACKAGE_WITHHELD} if withheld else {}),
        },
        indent=2,
    )


def _report_context(data: dict[str, Any]) -> dict[str, Any]:
    """data.json's content with its timestamps as dates, for the report a person reads."""
    from datetime import datetime

    def when(value: str) -> Any:
        return datetime.fromisoformat(value) if value else None

    from subjects.templatetags.public_i18n import day_date

    def days(times: list[str]) -> str:
        """The days an organisation was shown the photo, each once, in the active language."""
        return ", ".join(day_date(d) for d in sorted({when(t).date() for t in times}))

    images = [
        {
            **image,
            "first_seen": when(image["first_seen"]),
            "last_seen": when(image["last_seen"]),
            "recipients": [{**r, "days": days(r["times"])} for r in image["recipients"]],
        }
        for image in data["images"]
    ]
    return {
        "data": {**data, "images": images, "generated_at": when(data["generated_at"])},
        "rights": PACKAGE_RIGHTS,
        "regulator": regulator_text(),
    }


def access_package_build(*, request: SubjectRequest) -> tuple[AccessPackage, str]:
    """A ZIP with report.html (to read), data.json (for machines) and the face crops (only the person's).

    The one owner of what an access answer discloses: the second tier (crops, addresses, dates, organisations)
    only when ``identity_proven``; otherwise the first tier, which says how to get the rest."""
    second_tier = identity_proven(request=request)
    data = _package_json(request, second_tier=second_tier)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data.json", data)
        with translation.override(
            request_language(request)
        ):  # the person's language, not the DPO's
            report = render_to_string(
                "subjects/access_report.html", _report_context(json.loads(data))
            )
        archive.writestr("report.html", report)
        for face in _confirmed_faces(request) if second_tier else ():
            if face.crop:
                with face.crop.open("rb") as fh:
                    archive.writestr(f"faces/{face.pk}.jpg", fh.read())
    content = buffer.getvalue()
    token = secrets.token_urlsafe(32)
    package = AccessPackage(
        request=request,
        sha256=hashlib.sha256(content).hexdigest(),
        token_hash=_hash(token),
        expires_at=timezone.now() + timedelta(days=settings.ACCESS_PACKAGE_DAYS),
    )
    package.file.save(
        f"{request.reference}-{secrets.token_hex(6)}.zip", ContentFile(content), save=False
    )
    package.save()
    return package, token


def access_package_download(*, token: str, ip: str | None = None) -> AccessPackage:
    with transaction.atomic():
        package = (
            AccessPackage.objects.select_for_update()
            .select_related("request")
            .filter(token_hash=_hash(token))
            .first()
        )
        if (
            package is None
            or package.deleted_at is not None
            or package.expires_at <= timezone.now()
        ):
            raise RequestRefused(_("This download link has expired."))
        package.downloads += 1
        package.save(update_fields=["downloads"])
        _audit(package.request, "package_downloaded", ip=ip, downloads=package.downloads)
    return package


def _deleter(name: str) -> Any:
    return lambda: default_storage.delete(name)


def access_packages_expire() -> int:
    """Delete packages whose link expired: one transaction, their audit events appended together,
    each file deleted once the rows have committed."""
    with transaction.atomic():
        expired = list(
            AccessPackage.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("request")
            .filter(deleted_at__isnull=True, expires_at__lte=timezone.now())
        )
        if not expired:
            return 0
        AccessPackage.objects.filter(pk__in=[p.pk for p in expired]).update(
            deleted_at=timezone.now(), file=""
        )
        audit_record_many(entries=[_audit_entry(p.request, "package_deleted") for p in expired])
        for package in expired:
            transaction.on_commit(_deleter(str(package.file.name)))
    return len(expired)


# --- Erasure and objection -----------------------------------------------------------------------


def _do_erasure(request: SubjectRequest, actor: Any = None, **_: Any) -> dict[str, Any]:
    receipt, _outcome = erase_confirmed(request=request, actor=actor)
    _email(request, "erased", gettext_lazy("Your photos have been erased"), counts=receipt.counts)
    return {"erased": receipt.counts, "verified_clean": receipt.verified_clean}


def erase_confirmed(
    *, request: SubjectRequest, actor: Any = None
) -> tuple[ErasureReceipt, ErasureOutcome]:
    """Erase every image holding a confirmed face (search.stewardship.faces_erase: what a legal hold covers
    is kept, restricted, and erased when the hold ends); tell the organisations that received the erased
    ones (Art 19); record the receipt. Returns the receipt and the stewardship's outcome."""
    from search import stewardship

    face_ids = list(_confirmed_faces(request).values_list("pk", flat=True))
    outcome = stewardship.faces_erase(
        face_ids=face_ids, request_reference=request.reference, actor=actor
    )
    return _erasure_receipt(request, outcome), outcome


def _erasure_receipt(request: SubjectRequest, outcome: ErasureOutcome) -> ErasureReceipt:
    from accounts.models import Membership, Role

    for org_id, (_name, cases) in outcome.recipients.items():
        OrganisationNotice.objects.create(
            organisation_id=org_id,
            message=(
                f"A person exercised their right to erasure ({request.reference}). Faces of theirs that appeared in your results "
                f"for case(s) {', '.join(sorted(cases))} have been erased. Delete any copies you kept (Art 17 and 19 GDPR)."
            ),
        )
        admins = list(
            Membership.objects.filter(organisation_id=org_id, role=Role.ORG_ADMIN).values_list(
                "user__email", flat=True
            )
        )
        if admins:
            message = render_to_string(
                "subjects/email/recipient_notice.txt",
                {"reference": request.reference, "cases": sorted(cases)},
            )
            email_enqueue(to=admins, subject="Erasure notice: results you received", body=message)
    receipt = ErasureReceipt.objects.create(
        request=request,
        counts=outcome.counts,
        organisations_notified=sorted(n for n, _ in outcome.recipients.values()),
        verified_clean=outcome.verified_clean,
        verification=outcome.verification,
    )
    audit_record(
        actor=None,
        action="subjects.erasure.verified",
        target=receipt,
        outcome="success" if receipt.verified_clean else "failure",
        details={
            "reference": request.reference,
            **outcome.verification,
            "held_images": outcome.counts.get("held_images", 0),
        },
    )
    return receipt


def storage_objects_left(*, names: list[str], sha256s: list[str]) -> list[str]:
    """Objects left in storage under erased names (search.stewardship.storage_objects_left)."""
    from search.stewardship import storage_objects_left as left

    return left(names=names, sha256s=sha256s)


def _do_objection(request: SubjectRequest, actor: Any = None, **_: Any) -> dict[str, Any]:
    from search import stewardship

    # With consent, every confirmed face's template is kept (not only the selfie's): photos of the person
    # unlike the selfie are then refused too. Read them before the erasure deletes the faces.
    templates: list[tuple[str, list[float]]] = []
    if request.consent_keep_template:
        templates = [
            (f.model, list(f.embedding))
            for f in _confirmed_faces(request).filter(embedding__isnull=False)
        ]
        if request.template is not None:
            templates.insert(0, (request.template_model, list(request.template)))
    face_ids = list(_confirmed_faces(request).values_list("pk", flat=True))
    done = stewardship.faces_suppress(
        face_ids=face_ids,
        request_reference=request.reference,
        actor=actor,
        page_urls=list(request.urls),
        templates=templates,
    )
    receipt = _erasure_receipt(request, done.erasure)
    _email(
        request,
        "objection_done",
        gettext_lazy("We will not collect your photos again"),
        counts=receipt.counts,
    )
    return {
        "erased": receipt.counts,
        "suppression_entries": done.entries,
        "templates_kept": done.templates,
    }


# --- Restriction, rectification, complaint ---------------------------------------------------------


def _do_restriction(request: SubjectRequest, actor: Any = None, **_: Any) -> dict[str, Any]:
    from search import stewardship
    from search.models import Face

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
    from search import stewardship

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


def _do_rectification(
    request: SubjectRequest, *, rectified_jurisdiction: str = "", actor: Any = None, **_: Any
) -> dict[str, Any]:
    from search import stewardship

    code = rectified_jurisdiction.strip().upper()
    if not code:
        raise ValidationError("Give the corrected jurisdiction (ISO 3166 code).")
    face_ids = list(_confirmed_faces(request).values_list("pk", flat=True))
    outcome = stewardship.faces_set_jurisdiction(
        face_ids=face_ids, code=code, request_reference=request.reference, actor=actor
    )
    _email(request, "rectified", gettext_lazy("Your data has been corrected"), code=code)
    done: dict[str, Any] = {"rectified_faces": outcome.faces, "jurisdiction": code}
    if (
        outcome.erasure is not None
    ):  # an excluded jurisdiction: erased as the jurisdiction sweep would
        done["erased"] = outcome.erasure.counts
    return done


def _do_complaint(request: SubjectRequest, **_: Any) -> dict[str, Any]:
    _email(request, "complaint_done", gettext_lazy("Our answer to your complaint"))
    return {
        "acknowledged_at": request.acknowledged_at.isoformat() if request.acknowledged_at else None
    }


# --- Suppression (used by objection, also directly by the DPO) -------------------------------------------


def suppression_add(**kwargs: Any) -> int:
    """The suppression list is written by search (search.stewardship.suppression_add); kept for callers."""
    from search.stewardship import suppression_add as add

    return add(**kwargs)


def dpo_digest() -> int:
    """Email the DPO the requests due within a week and those overdue (daily)."""
    today = timezone.localdate()
    open_requests = list(
        SubjectRequest.objects.exclude(status__in=[S.COMPLETED, S.DENIED, S.WITHDRAWN, S.LAPSED])
    )
    overdue = [r for r in open_requests if r.is_overdue]
    soon = [r for r in open_requests if not r.is_overdue and (r.due_date - today).days <= 7]
    signals = abuse_signal_open_count()
    if not overdue and not soon and not signals:
        return 0
    body = render_to_string(
        "subjects/email/dpo_digest.txt",
        {
            "overdue": overdue,
            "soon": soon,
            "queue": _url("subjects:queue"),
            "signals": signals,
            "signals_url": _url("subjects:abuse_signals"),
        },
    )
    send_mail(
        subject=f"Subject requests: {len(overdue)} overdue, {len(soon)} due within 7 days"
        + (f", {signals} abuse signal{'s' if signals != 1 else ''} open" if signals else ""),
        message=body,
        from_email=None,
        recipient_list=[settings.DPO_EMAIL],
    )
    return len(overdue) + len(soon)
