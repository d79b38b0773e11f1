"""Public pages (no account) and the DPO's request queue."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.files.uploadhandler import StopUpload
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from config.http import client_ip
from config.registry import retention_policies
from crawling.selectors import sources_with_data, undeclared_labels
from search.models import LawfulBasis
from subjects import identity, log_proofs, selectors, services
from subjects.forms import (
    ClarificationAnswerForm,
    SubjectRequestForm,
)
from subjects.models import ErasureReceipt, RequestType, SubjectRequest
from subjects.uploads import SelfieMemoryHandler


@require_GET
def notice(request: HttpRequest) -> HttpResponse:
    """The transparency notice, generated from live configuration, and the ways to use one's rights."""
    context = {
        "dpo_email": settings.DPO_EMAIL,
        "controller": settings.CONTROLLER_NAME,
        "controller_address": settings.CONTROLLER_ADDRESS,
        "regulator": services.regulator_text(),
        "sources": sources_with_data(),
        "undeclared": undeclared_labels(),
        "retention": retention_policies(),
        "bases": LawfulBasis.choices,
        "excluded": settings.EXCLUDED_JURISDICTIONS,
        "types": [(t, label) for t, label in RequestType.choices if t != RequestType.OBJECTION],
    }
    return render(request, "subjects/notice.html", context)


@csrf_exempt  # the handlers must be set before CSRF reads the body; csrf_protect runs below
def request_form(request: HttpRequest, kind: str) -> HttpResponse:
    if kind not in RequestType.values:
        raise Http404
    request.upload_handlers = [SelfieMemoryHandler(request)]
    return _request_form(request, kind)


def _add_errors(form: Any, exc: ValidationError) -> None:
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


def _image_rejected(exc: Exception) -> str | None:
    """The reason a photo was refused, in the visitor's language (the engine words its reasons in English)."""
    from search.engine import ImageRejected

    if not isinstance(exc, ImageRejected):
        return None
    public = {
        "svg": _("Drawings (SVG) are not accepted: send a photo (JPEG, PNG or WebP)."),
        "unsupported_format": _(
            "This kind of image is not accepted: save the photo as JPEG or PNG and try again."
        ),
        "empty": _("The file is empty."),
        "too_large": _("This photo is too large: at most %(limit)s MB. Send a smaller photo.")
        % {"limit": settings.FACE_IMAGE_MAX_BYTES // 10**6},
        "too_many_pixels": _(
            "This photo has too many pixels: at most %(limit)s megapixels. Send a smaller photo."
        )
        % {"limit": settings.FACE_IMAGE_MAX_PIXELS // 10**6},
        "not_an_image": _(
            "This file is not an image we can read (JPEG, PNG, WebP, GIF, BMP or TIFF)."
        ),
        "damaged": _("The image file is damaged or incomplete."),
        "busy": _("We are handling many photos right now: please send the form again in a minute."),
    }
    return public.get(exc.code, exc.message)


@csrf_protect
def _request_form(request: HttpRequest, kind: str) -> HttpResponse:
    form = SubjectRequestForm(request.POST or None, request.FILES or None, request_type=kind)
    status = 200
    if request.method == "POST" and form.is_valid():
        if form.cleaned_data.get("website"):
            # A bot filled the hidden field: act as if all went well, store nothing.
            return redirect("subjects:submitted")
        selfie = form.cleaned_data.get("selfie")
        try:
            subject_request, token = (
                services.request_submit(  # stores the page's language for later emails
                    type=kind,
                    email=form.cleaned_data["email"],
                    details=form.cleaned_data.get("details", ""),
                    urls=form.url_list(),
                    correction=form.cleaned_data.get("correction", ""),
                    selfie=selfie.read() if selfie else None,
                    consent_keep_template=bool(form.cleaned_data.get("consent_keep_template")),
                    ip=client_ip(request),
                )
            )
        except services.RequestRefused as exc:
            form.add_error(None, exc.reason)
            status = 429
        except ValidationError as exc:
            _add_errors(form, exc)
        except Exception as exc:
            message = _image_rejected(exc)
            if message is None:
                raise
            form.add_error("selfie", message)
        finally:
            selfie = None
        if not form.errors:
            messages.success(
                request,
                _(
                    "We received your request and sent a link to %(email)s. Open it to confirm the request. "
                    "Keep this page's address: it shows where your request stands."
                )
                % {"email": subject_request.email},
            )
            return remember_status(
                redirect(_status_path(subject_request.reference)), subject_request, token
            )
    if form.errors and status == 200:
        status = 400
    return render(
        request,
        "subjects/request_form.html",
        {"form": form, "kind": kind, "label": RequestType(kind).label},
        status=status,
    )


@require_GET
def submitted(request: HttpRequest) -> HttpResponse:
    return render(request, "subjects/submitted.html")


# --- Secret links --------------------------------------------------------------------------------
# An emailed link carries a secret in its path. The page it opens sets the secret in an HttpOnly,
# path-scoped cookie and links only to token-free addresses (/rights/requests/<ref>/, /rights/verify/,
# /rights/package/), so the secret is in at most one request line: the one the email's link opens,
# which the log filters redact (config/logredact.py). Setting the cookie changes no state: a mail
# scanner that follows the link confirms, withdraws and downloads nothing.

VERIFY_COOKIE, PACKAGE_COOKIE, STATUS_COOKIE = "rights_verify", "rights_package", "rights_status"


def _remember(response: HttpResponse, name: str, token: str, path: str) -> HttpResponse:
    response.set_cookie(
        name, token, path=path, httponly=True, samesite="Lax", secure=settings.SESSION_COOKIE_SECURE
    )
    response["Cache-Control"] = "private, no-store"
    return response


def _status_path(reference: str) -> str:
    return reverse("subjects:status_page", args=[reference])


def _token(request: HttpRequest, name: str, token: str | None) -> str:
    """The secret from the link's path, or else from the cookie the link's page set."""
    return token or request.COOKIES.get(name, "")


def remember_status(
    response: HttpResponse, subject_request: SubjectRequest, token: str = ""
) -> HttpResponse:
    """Let this browser open the request's token-free status page (the secret of every email's link by default)."""
    token = token or services._status_token(subject_request.reference)
    return _remember(response, STATUS_COOKIE, token, _status_path(subject_request.reference))


def _link_invalid(request: HttpRequest, reason: str) -> HttpResponse:
    return render(request, "subjects/link_invalid.html", {"reason": reason}, status=404)


@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest, token: str | None = None) -> HttpResponse:
    """GET shows a button; only the POST confirms (mail scanners follow links with GET)."""
    token = _token(request, VERIFY_COOKIE, token)
    if not token:
        return _link_invalid(request, _("Open the link from your email again."))
    subject_request, usable = selectors.verification_by_token(token=token)
    if request.method == "POST":
        try:
            services.request_verify(token=token, ip=client_ip(request))
        except services.RequestRefused as exc:
            return _link_invalid(request, exc.reason)
        return _remember(
            redirect("subjects:verify_page"), VERIFY_COOKIE, token, reverse("subjects:verify_page")
        )
    if subject_request is None or (not usable and subject_request.verified_at is None):
        return _link_invalid(request, _("This link has expired or was already used."))
    context = {
        "req": subject_request,
        "confirmed": not usable,
        "status_link": _status_path(subject_request.reference),
        "language_next": reverse("subjects:verify_page"),
        "hidden_note": _hidden_note(subject_request),
    }
    response = render(request, "subjects/verified.html", context)
    _remember(response, VERIFY_COOKIE, token, reverse("subjects:verify_page"))
    return remember_status(response, subject_request)


def _hidden_note(subject_request: SubjectRequest) -> bool:
    """Whether to tell the person that the photos their request points to are hidden from every search meanwhile."""
    return bool(
        subject_request.type in services.DECIDE_FIRST
        and subject_request.verified_at
        and subject_request.is_open
    )


def _status_context(subject_request: SubjectRequest, **extra: object) -> dict[str, object]:
    question = subject_request.clarifications.filter(answered_at__isnull=True).last()
    receipt = ErasureReceipt.objects.filter(request=subject_request).first()
    return {
        "req": subject_request,
        "timeline": selectors.request_timeline(request=subject_request),
        "question": (question.question if question else subject_request.pause_reason),
        "answer_form": ClarificationAnswerForm(),
        "receipt": receipt,
        "log_proofs": log_proofs.receipt_proofs(request=subject_request, receipt=receipt),
        "regulator": services.regulator_text(),
        "hidden_note": _hidden_note(subject_request),
        "proven": identity.identity_proven(request=subject_request),
        "language_next": _status_path(
            subject_request.reference
        ),  # the language switcher returns token-free
        **extra,
    }


def _request_by_token(
    request: HttpRequest, reference: str, token: str | None
) -> tuple[SubjectRequest, str]:
    token = _token(request, STATUS_COOKIE, token)
    return services.access_request_by_token(reference=reference, token=token), token


@require_GET
def status(request: HttpRequest, reference: str, token: str | None = None) -> HttpResponse:
    subject_request, token = _request_by_token(request, reference, token)
    response = render(request, "subjects/status.html", _status_context(subject_request))
    return _remember(response, STATUS_COOKIE, token, _status_path(reference))


@require_http_methods(["GET", "POST"])
def withdraw(request: HttpRequest, reference: str, token: str | None = None) -> HttpResponse:
    """ "Are you sure?" on GET; the POST withdraws, then back to the status page."""
    subject_request, token = _request_by_token(request, reference, token)
    if request.method == "POST":
        try:
            services.request_transition(
                request=subject_request, action="withdraw", actor=None, ip=client_ip(request)
            )
        except ValidationError:
            messages.error(request, _("This request can no longer be withdrawn."))
        else:
            messages.success(
                request, _("Your request is withdrawn. Nothing more will be done with it.")
            )
        return _remember(
            redirect(_status_path(reference)), STATUS_COOKIE, token, _status_path(reference)
        )
    if not subject_request.is_open or subject_request.status == SubjectRequest.Status.PROCESSING:
        messages.error(request, _("This request can no longer be withdrawn."))
        return _remember(
            redirect(_status_path(reference)), STATUS_COOKIE, token, _status_path(reference)
        )
    response = render(request, "subjects/withdraw.html", {"req": subject_request})
    return _remember(response, STATUS_COOKIE, token, _status_path(reference))


@csrf_exempt  # the selfie stays in memory: handlers are set before CSRF reads the body; csrf_protect runs below
@require_POST
def answer(request: HttpRequest, reference: str, token: str | None = None) -> HttpResponse:
    request.upload_handlers = [SelfieMemoryHandler(request)]
    try:
        request.POST  # noqa: B018 - parse now, with the memory-only handler, to catch an oversized body here
        too_large = getattr(request.FILES.get("selfie"), "too_large", False)
    except StopUpload:
        too_large = True
    if too_large:  # the handler dropped the photo in memory; say so beside the question
        subject_request, token = _request_by_token(request, reference, token)
        form = ClarificationAnswerForm(data={})
        form.is_valid()  # bound and cleaned, so that the error can be attached
        limit = settings.SUBJECT_SELFIE_MAX_BYTES / 1e6
        too_large_message = _(
            "This photo is too large: at most %(limit)s MB. Send a smaller photo."
        )
        form.add_error("selfie", too_large_message % {"limit": f"{limit:.0f}"})
        return render(
            request,
            "subjects/status.html",
            _status_context(subject_request, answer_form=form),
            status=413,
        )
    return _answer(request, reference, token)


@csrf_protect
def _answer(request: HttpRequest, reference: str, token: str | None) -> HttpResponse:
    subject_request, token = _request_by_token(request, reference, token)
    if subject_request.status != SubjectRequest.Status.AWAITING_CLARIFICATION:
        # A page left open, or sent twice: say so on the status page rather than on a form that is gone.
        messages.error(
            request, _("This request is not waiting for an answer from you; nothing was sent.")
        )
        return _remember(
            redirect(_status_path(reference)), STATUS_COOKIE, token, _status_path(reference)
        )
    form = ClarificationAnswerForm(request.POST, request.FILES)
    if form.is_valid():
        selfie = form.cleaned_data.get("selfie")
        try:
            services.clarification_answer(
                request=subject_request,
                answer=form.cleaned_data.get("answer", ""),
                urls=form.url_list(),
                selfie=selfie.read() if selfie else None,
                ip=client_ip(request),
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        except Exception as exc:
            message = _image_rejected(exc)
            if message is None:
                raise
            form.add_error("selfie", message)
        finally:
            selfie = None
        if not form.errors:
            messages.success(
                request, _("Thank you: we have your answer, and the deadline runs again.")
            )
            return _remember(
                redirect(_status_path(reference)), STATUS_COOKIE, token, _status_path(reference)
            )
    subject_request.refresh_from_db()
    context = _status_context(subject_request, answer_form=form)
    return render(request, "subjects/status.html", context, status=400)


@require_http_methods(["GET", "POST"])
def package(request: HttpRequest, token: str | None = None) -> HttpResponse | FileResponse:
    """GET shows what the download holds and a button; the POST downloads and is counted (audited), so a mail
    scanner following the link neither fetches the person's photos nor counts as a download."""
    token = _token(request, PACKAGE_COOKIE, token)
    if request.method == "GET":
        found = selectors.access_package_by_token(token=token) if token else None
        if found is None:
            return _link_invalid(request, _("This download link has expired."))
        page = reverse("subjects:package_page")
        context = {"package": found, "req": found.request, "language_next": page}
        context["log_proofs"] = log_proofs.package_proofs(package=found)
        return _remember(
            render(request, "subjects/package.html", context), PACKAGE_COOKIE, token, page
        )
    try:
        pkg = services.access_package_download(token=token, ip=client_ip(request))
    except services.RequestRefused as exc:
        return _link_invalid(request, exc.reason)
    response = FileResponse(
        pkg.file.open("rb"),
        as_attachment=True,
        filename=f"{pkg.request.reference}.zip",
        content_type="application/zip",
    )
    response["Cache-Control"] = "private, no-store"
    return response
