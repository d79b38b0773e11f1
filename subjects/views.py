"""Public pages (no account) and the DPO's request queue."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET

from accounts.adapters import client_ip
from accounts.http import AuthenticatedHttpRequest
from subjects import services
from subjects.forms import ExtendForm, ReasonForm, SubjectRequestForm
from subjects.models import Candidate, RequestType, SubjectRequest
from subjects.uploads import SelfieMemoryHandler


@require_GET
def notice(request: HttpRequest) -> HttpResponse:
    """The transparency notice, generated from live configuration, and the ways to use one's rights."""
    from compliance.models import RetentionPolicy
    from crawling.selectors import sources_with_data, undeclared_labels
    from search.models import LawfulBasis

    context = {
        "dpo_email": settings.DPO_EMAIL,
        "controller": settings.CONTROLLER_NAME,
        "regulator": settings.REGULATOR_COMPLAINTS,
        "sources": sources_with_data(),
        "undeclared": undeclared_labels(),
        "retention": RetentionPolicy.objects.all(),
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


@csrf_protect
def _request_form(request: HttpRequest, kind: str) -> HttpResponse:
    form = SubjectRequestForm(request.POST or None, request.FILES or None, request_type=kind)
    status = 200
    if request.method == "POST" and form.is_valid():
        if form.cleaned_data.get("website"):
            # A bot filled the hidden field: act as if all went well, store nothing.
            return render(request, "subjects/submitted.html", {"email": form.cleaned_data["email"]})
        selfie = form.cleaned_data.get("selfie")
        try:
            subject_request, _token = services.request_submit(
                type=kind, email=form.cleaned_data["email"], details=form.cleaned_data.get("details", ""),
                urls=form.url_list(), correction=form.cleaned_data.get("correction", ""),
                selfie=selfie.read() if selfie else None,
                consent_keep_template=bool(form.cleaned_data.get("consent_keep_template")), ip=client_ip(request),
            )  # fmt: skip
        except services.RequestRefused as exc:
            form.add_error(None, exc.reason)
            status = 429
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        except Exception as exc:
            from search.engine import ImageRejected

            if not isinstance(exc, ImageRejected):
                raise
            form.add_error("selfie", exc.message)
        finally:
            selfie = None
        if not form.errors:
            return render(request, "subjects/submitted.html", {"email": subject_request.email, "req": subject_request})
    if form.errors and status == 200:
        status = 400
    return render(request, "subjects/request_form.html", {"form": form, "kind": kind, "label": RequestType(kind).label},
                  status=status)  # fmt: skip


@require_GET
def verify(request: HttpRequest, token: str) -> HttpResponse:
    try:
        subject_request = services.request_verify(token=token, ip=client_ip(request))
    except services.RequestRefused as exc:
        return render(request, "subjects/link_invalid.html", {"reason": exc.reason}, status=404)
    return render(request, "subjects/verified.html", {"req": subject_request})


def status(request: HttpRequest, reference: str, token: str) -> HttpResponse:
    subject_request = services.access_request_by_token(reference=reference, token=token)
    if request.method == "POST" and request.POST.get("action") == "withdraw":
        try:
            services.request_transition(request=subject_request, action="withdraw", actor=None, ip=client_ip(request))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        return redirect("subjects:status", reference=reference, token=token)
    return render(request, "subjects/status.html", {"req": subject_request})


@require_GET
def package(request: HttpRequest, token: str) -> HttpResponse | FileResponse:
    try:
        pkg = services.access_package_download(token=token, ip=client_ip(request))
    except services.RequestRefused as exc:
        return render(request, "subjects/link_invalid.html", {"reason": exc.reason}, status=404)
    response = FileResponse(pkg.file.open("rb"), as_attachment=True, filename=f"{pkg.request.reference}.zip",
                            content_type="application/zip")  # fmt: skip
    response["Cache-Control"] = "private, no-store"
    return response


# --- DPO ------------------------------------------------------------------------------------------


def _require_dpo(request: AuthenticatedHttpRequest) -> None:
    if not request.user.has_perm("accounts.work_subject_requests"):
        raise PermissionDenied


def _req(reference: str) -> SubjectRequest:
    found = SubjectRequest.objects.filter(reference=reference).first()
    if found is None:
        raise Http404
    return found


@login_required
@require_GET
def queue(request: AuthenticatedHttpRequest) -> HttpResponse:
    _require_dpo(request)
    show = request.GET.get("show", "open")
    requests = SubjectRequest.objects.order_by("due_date", "received_at")
    if show == "open":
        requests = requests.exclude(status__in=["completed", "denied", "withdrawn", "lapsed"])
    return render(request, "subjects/queue.html", {"requests": requests[:500], "show": show})


@login_required
def detail(request: AuthenticatedHttpRequest, reference: str) -> HttpResponse:
    _require_dpo(request)
    subject_request = _req(reference)
    if request.method == "POST":
        action = request.POST.get("action", "")
        ip = client_ip(request)
        try:
            if action in services.TRANSITIONS:
                services.request_transition(request=subject_request, action=action, actor=request.user,
                                            reason=request.POST.get("reason", ""), ip=ip)  # fmt: skip
            elif action == "extend":
                form = ExtendForm(request.POST)
                if not form.is_valid():
                    raise ValidationError("Choose one or two months and give the reasons.")
                services.request_extend(request=subject_request, months=form.cleaned_data["months"],
                                        reason=form.cleaned_data["reason"], actor=request.user, ip=ip)  # fmt: skip
            elif action in ("confirm", "reject"):
                candidate_id = request.POST.get("candidate", "")
                candidate = subject_request.candidates.filter(pk=int(candidate_id)).first() if candidate_id.isdigit() else None
                if candidate is None:
                    raise Http404
                services.candidate_decide(candidate=candidate, confirm=action == "confirm", actor=request.user, ip=ip)
            elif action == "execute":
                services.request_execute(request=subject_request, actor=request.user, ip=ip,
                                         rectified_jurisdiction=request.POST.get("jurisdiction", ""))  # fmt: skip
            elif action == "lift_restriction":
                services.restriction_lift(
                    request=subject_request, actor=request.user, reason=request.POST.get("reason", ""), ip=ip
                )
            else:
                return HttpResponse("Unknown action.", status=400)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, "Done.")
        return redirect("subjects:detail", reference=reference)
    context = {"req": subject_request, "candidates": subject_request.candidates.select_related("face__image"),
               "reason_form": ReasonForm(), "extend_form": ExtendForm(), "S": SubjectRequest.Status}  # fmt: skip
    return render(request, "subjects/detail.html", context)


@login_required
@require_GET
def candidate_thumbnail(request: AuthenticatedHttpRequest, reference: str, candidate_id: int) -> HttpResponse:
    _require_dpo(request)
    candidate = Candidate.objects.filter(pk=candidate_id, request__reference=reference).select_related("face").first()
    if candidate is None or candidate.face is None or not candidate.face.crop:
        raise Http404
    with candidate.face.crop.open("rb") as fh:
        response = HttpResponse(fh.read(), content_type="image/jpeg")
    response["Cache-Control"] = "private, no-store"
    return response
