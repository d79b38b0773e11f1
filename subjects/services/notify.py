"""Emails about a request: to the person in their language (with the status link), and the DPO's digest."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.crypto import salted_hmac

from outbox.services import email_enqueue
from subjects import public_labels
from subjects.abuse import abuse_signal_open_count
from subjects.models import (
    SubjectRequest,
)

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


S = SubjectRequest.Status


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

    return public_labels.regulator_text()


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
