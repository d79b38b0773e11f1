"""Customer search pages: upload, live progress, choose a face, results."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.http import AuthenticatedHttpRequest
from accounts.permissions import DPO_PAGES, dpo_required
from accounts.selectors import membership_for
from config.http import client_ip
from search import engine, monitoring, selectors, services, withholding
from search.forms import (
    AccessRestrictionForm,
    AlertCloseForm,
    ChooseFaceForm,
    RepeatConfirmForm,
    SearchForm,
)
from search.models import MonitoringAlert, SearchRequest


@login_required
def index(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The search form and the organisation's recent searches."""
    membership = membership_for(user=request.user)
    if membership is None:
        raise Http404
    form = SearchForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["image"]
        try:
            if upload.size > settings.FACE_IMAGE_MAX_BYTES:
                raise engine.ImageRejected(
                    "too_large",
                    f"The file is {upload.size / 1e6:.0f} MB; the limit is {settings.FACE_IMAGE_MAX_BYTES / 1e6:.0f} MB.",
                )
            search = services.search_create(
                user=request.user,
                image_data=upload.read(),
                purpose=form.cleaned_data["purpose"],
                lawful_basis=form.cleaned_data["lawful_basis"],
                case_reference=form.cleaned_data["case_reference"],
                ip=client_ip(request),
            )
        except engine.EngineBusy as exc:
            form.add_error(None, exc.message)
            return _render_index(request, membership, form, status=503)
        except engine.ImageRejected as exc:
            form.add_error("image", exc.message)
        except services.SearchLimitExceeded as exc:
            form.add_error(None, exc.reason)
            return _render_index(request, membership, form, status=429)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            return redirect("search:detail", search_id=search.pk)
    return _render_index(request, membership, form, status=400 if form.errors else 200)


def _render_index(
    request: AuthenticatedHttpRequest, membership: object, form: SearchForm, *, status: int
) -> HttpResponse:
    searches = selectors.search_list(user=request.user)[:20]
    context = {"form": form, "searches": searches, "membership": membership}
    if getattr(membership, "is_org_admin", False):
        context["alerts"] = monitoring.organisation_alert_list(
            organisation_id=membership.organisation_id  # type: ignore[attr-defined]
        )
    return render(request, "search/index.html", context, status=status)


@login_required
@require_GET
def detail(request: AuthenticatedHttpRequest, search_id: int) -> HttpResponse:
    search = selectors.access_search_by_id(user=request.user, search_id=search_id)
    context = _detail_context(request, search)
    if withholding.access_restriction_may_claim(search=search, user=request.user):
        context["restriction_form"] = AccessRestrictionForm()
    return render(request, "search/detail.html", context)


@login_required
@require_POST
def access_restriction_claim(request: AuthenticatedHttpRequest, search_id: int) -> HttpResponse:
    """Claim a restriction of the right of access (Art 23) for this search; the DPO decides."""
    search = selectors.access_search_by_id(user=request.user, search_id=search_id)
    form = AccessRestrictionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose the legal basis and give the reference of the restriction.")
        return redirect("search:detail", search.pk)
    try:
        withholding.search_access_restriction_claim(
            search=search,
            user=request.user,
            basis=form.cleaned_data["basis"],
            reference=form.cleaned_data["reference"],
            ip=client_ip(request),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except withholding.WithholdingRefused as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, "Restriction claimed. It withholds nothing until the DPO approves it."
        )
    return redirect("search:detail", search.pk)


@login_required
@require_GET
def status(request: AuthenticatedHttpRequest, search_id: int) -> HttpResponse:
    """The live part of the detail page (htmx polls it until the search is finished)."""
    search = selectors.access_search_by_id(user=request.user, search_id=search_id)
    return render(request, "search/_status.html", _detail_context(request, search))


def _detail_context(request: AuthenticatedHttpRequest, search: SearchRequest) -> dict[str, object]:
    hits = []
    if search.status == SearchRequest.Status.DONE:
        hits = list(selectors.search_hit_list(search=search))
        services.search_results_viewed(search=search, user=request.user, ip=client_ip(request))
    context: dict[str, object] = {
        "search": search,
        "hits": hits,
        "probe_faces": search.probe_faces.all(),
        "Status": SearchRequest.Status,
    }
    if search.status == SearchRequest.Status.DONE:
        context["operating_point"] = selectors.search_operating_point(search=search)
        context["confidence_meaning"] = selectors.confidence_meaning(model=search.model)
    if search.status == SearchRequest.Status.NEEDS_CONFIRMATION:
        context["earlier"] = len(monitoring.earlier_searches_of_same_person(search=search))
        context["window_days"] = settings.MONITORING_WINDOW_DAYS
        # Prefilled: most repeats belong to the case the analyst gave; they may change it.
        context["confirm_form"] = RepeatConfirmForm(
            initial={"case_reference": search.case_reference}
        )
    return context


@login_required
@require_POST
def confirm_repeat(request: AuthenticatedHttpRequest, search_id: int) -> HttpResponse:
    """The analyst confirms a held repeat search with its case reference; the results are released."""
    search = selectors.access_search_by_id(user=request.user, search_id=search_id)
    form = RepeatConfirmForm(request.POST)
    if form.is_valid():
        try:
            monitoring.search_repeat_confirm(
                search=search,
                user=request.user,
                case_reference=form.cleaned_data["case_reference"],
                ip=client_ip(request),
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        except monitoring.ConfirmationRefused as exc:
            messages.error(request, exc.message)
            return redirect("search:detail", search_id=search.pk)
        else:
            return redirect("search:detail", search_id=search.pk)
    context = _detail_context(request, search)
    context["confirm_form"] = form
    return render(request, "search/detail.html", context, status=400)


@login_required
@require_POST
def cancel_repeat(request: AuthenticatedHttpRequest, search_id: int) -> HttpResponse:
    search = selectors.access_search_by_id(user=request.user, search_id=search_id)
    try:
        monitoring.search_repeat_cancel(search=search, user=request.user, ip=client_ip(request))
    except monitoring.ConfirmationRefused as exc:
        messages.error(request, exc.message)
    return redirect("search:detail", search_id=search.pk)


# --- Monitoring alerts (DPO) ------------------------------------------------------------


@login_required
@require_GET
def monitoring_alerts(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Open alerts first, then the 50 latest closed ones."""
    dpo_required(user=request.user, permission=DPO_PAGES)
    return render(
        request,
        "search/monitoring_alerts.html",
        {
            "open_alerts": monitoring.monitoring_alert_list(),
            "closed_alerts": monitoring.monitoring_alert_list(status=MonitoringAlert.Status.CLOSED)[
                :50
            ],
            "settings_cases": settings.MONITORING_CASES_PER_ORGANISATION,
        },
    )


@login_required
@require_GET
def monitoring_alert(request: AuthenticatedHttpRequest, alert_id: int) -> HttpResponse:
    """The DPO's evidence for one alert: organisations, case references, dates and analysts; never the face."""
    dpo_required(user=request.user, permission=DPO_PAGES)
    alert = monitoring.access_monitoring_alert(user=request.user, alert_id=alert_id)
    return _alert_page(request, alert, AlertCloseForm(), status=200)


def _alert_page(
    request: AuthenticatedHttpRequest, alert: MonitoringAlert, form: AlertCloseForm, *, status: int
) -> HttpResponse:
    context = {
        "alert": alert,
        "searches": monitoring.monitoring_alert_evidence(alert=alert),
        "form": form,
        "settings_cases": settings.MONITORING_CASES_PER_ORGANISATION,
        "settings_orgs": settings.MONITORING_ORGANISATIONS,
    }
    return render(request, "search/monitoring_alert.html", context, status=status)


@login_required
@require_POST
def monitoring_alert_close(request: AuthenticatedHttpRequest, alert_id: int) -> HttpResponse:
    dpo_required(user=request.user, permission=DPO_PAGES)
    alert = monitoring.access_monitoring_alert(user=request.user, alert_id=alert_id)
    form = AlertCloseForm(request.POST)
    if form.is_valid():
        try:
            monitoring.monitoring_alert_close(
                alert=alert,
                user=request.user,
                note=form.cleaned_data["note"],
                ip=client_ip(request),
            )
        except ValidationError as exc:
            form.add_error("note" if hasattr(exc, "error_dict") else None, exc.messages)
        else:
            messages.success(request, f"Alert #{alert.pk} closed.")
            return redirect("search:monitoring_alert", alert_id=alert.pk)
    return _alert_page(request, alert, form, status=400)


@login_required
@require_POST
def choose_face(request: AuthenticatedHttpRequest, search_id: int) -> HttpResponse:
    search = selectors.access_search_by_id(user=request.user, search_id=search_id)
    form = ChooseFaceForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the faces shown.")
        return redirect("search:detail", search_id=search.pk)
    try:
        services.search_choose_face(
            search=search, index=form.cleaned_data["face"], user=request.user, ip=client_ip(request)
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("search:detail", search_id=search.pk)


@login_required
@require_GET
def probe_face_thumbnail(
    request: AuthenticatedHttpRequest, search_id: int, index: int
) -> HttpResponse:
    search = selectors.access_search_by_id(user=request.user, search_id=search_id)
    return private_jpeg(probe_face_bytes(search=search, index=index))


@login_required
@require_GET
def hit_thumbnail(request: AuthenticatedHttpRequest, search_id: int, face_id: int) -> HttpResponse:
    """A result's face crop, only to the organisation whose search returned it."""
    search = selectors.access_search_by_id(user=request.user, search_id=search_id)
    return private_jpeg(hit_crop_bytes(search=search, face_id=face_id))


def probe_face_bytes(*, search: SearchRequest, index: int) -> bytes:
    """One face of a probe with several (the caller checked access to the search); 404 otherwise."""
    face = search.probe_faces.filter(index=index).first() if 0 <= index < 2**15 else None
    if face is None:
        raise Http404
    return bytes(face.thumbnail)


def hit_crop_bytes(*, search: SearchRequest, face_id: int) -> bytes:
    """The crop of a face this search returned and may still show (the caller checked access to the search).

    404 otherwise: a held repeat search, or a face restricted, suppressed, expired or excluded since.
    """
    hit = selectors.search_hits_visible(search=search).filter(face_id=face_id).first()
    if hit is None:
        raise Http404
    face = hit.face
    if not face.crop:
        raise Http404
    try:
        with face.crop.open("rb") as fh:
            return fh.read()
    except OSError as exc:  # erased meanwhile
        raise Http404 from exc


def private_jpeg(data: bytes) -> HttpResponse:
    response = HttpResponse(data, content_type="image/jpeg")
    response["Cache-Control"] = "private, no-store"
    return response
