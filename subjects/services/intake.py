"""Intake and verification: a request is filed (rate-limited, abuse-checked) and its email confirmed."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import transaction
from django.http import Http404
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from audit.services import subject_pseudonym
from config import ratelimit
from subjects import clock
from subjects.abuse import abuse_check, email_normalise
from subjects.models import (
    RequestType,
    SubjectRequest,
    VerificationToken,
)
from subjects.services.candidates import _locate, selfie_analyse
from subjects.services.common import RequestRefused, _audit, _hash
from subjects.services.notify import _email, _status_token, _url
from subjects.services.restriction import _restrict_pending

S = SubjectRequest.Status


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
                % {"dpo_email": settings.DPO_EMAIL},
                code="rate_limited",
                status=429,
            )


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


def access_request_by_token(*, reference: str, token: str) -> SubjectRequest:
    """The requester's own request (reference plus the secret from their email); 404 otherwise."""

    request = SubjectRequest.objects.filter(reference=reference).first()
    if request is None:
        raise Http404
    # Requests filed before the secret was derived from the reference keep their random one; both open the page.
    stored = secrets.compare_digest(request.status_token_hash, _hash(token))
    if not stored and not secrets.compare_digest(_status_token(reference), token):
        raise Http404
    return request
