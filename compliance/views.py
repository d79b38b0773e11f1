"""Staff pages (DPO and auditor). The audit pages are read-only."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts import selectors as accounts_selectors
from accounts.http import AuthenticatedHttpRequest
from compliance import selectors, services
from compliance.exports import FORMATS, audit_export_lines
from compliance.forms import AuditFilterForm
from compliance.reports import staff_home_data
from config.http import client_ip
from subjects.selectors import organisation_notice_list


@login_required
def home(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The landing page: the organisation's notices for members, each staff role's summary for staff.
    It gathers from every app, so it lives in the top layer."""
    membership = accounts_selectors.membership_for(user=request.user)
    notices = (
        organisation_notice_list(organisation_id=membership.organisation_id) if membership else []
    )
    context: dict[str, object] = {"membership": membership, "notices": notices}
    if membership is None and (
        request.user.is_staff or accounts_selectors.user_staff_groups(user=request.user)
    ):
        context["summary"] = staff_home_data(user=request.user)
    return render(request, "accounts/home.html", context)


def _require_any(request: AuthenticatedHttpRequest, *perms: str) -> None:
    if not any(request.user.has_perm(p) for p in perms):
        raise PermissionDenied


@login_required
@require_GET
def staff_home(request: AuthenticatedHttpRequest) -> HttpResponse:
    _require_any(request, "accounts.dpo_access", "accounts.auditor_access")
    return render(
        request, "compliance/staff_home.html", {"summary": staff_home_data(user=request.user)}
    )


@login_required
@require_GET
def audit_log(request: AuthenticatedHttpRequest) -> HttpResponse:
    _require_any(request, "accounts.view_audit_log")
    form = AuditFilterForm(request.GET or None)
    filters = form.filters() if form.is_valid() else selectors.AuditFilters()
    events = selectors.audit_event_list(filters=filters).order_by("-seq")
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode(), "formats": FORMATS}
    return render(request, "compliance/audit_log.html", context, status=400 if form.errors else 200)


@login_required
@require_GET
def audit_export(request: AuthenticatedHttpRequest) -> HttpResponse | StreamingHttpResponse:
    """Stream the filtered log as CSV or JSON Lines; the export itself is audited first."""
    _require_any(request, "accounts.export_audit_log")
    fmt = request.GET.get("format", "csv")
    form = AuditFilterForm(request.GET)
    if fmt not in FORMATS or not form.is_valid():
        return HttpResponse(
            "Unknown format or invalid filters.", status=400, content_type="text/plain"
        )
    filters = form.filters()
    services.audit_record(
        actor=request.user,
        action="compliance.audit_log.exported",
        target="compliance.auditevent",
        outcome="success",
        ip=client_ip(request),
        details={
            "format": fmt,
            "filters": {k: str(v) for k, v in form.cleaned_data.items() if v not in (None, "")},
        },
    )
    response = StreamingHttpResponse(
        audit_export_lines(filters=filters, fmt=fmt), content_type=FORMATS[fmt]
    )
    response["Content-Disposition"] = (
        f'attachment; filename="audit-{timezone.now():%Y%m%dT%H%M%SZ}.{fmt}"'
    )
    return response


@login_required
@require_GET
def audit_verify(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Verify the whole chain and the anchors now, and show where it breaks if it does."""
    _require_any(request, "accounts.view_audit_log")
    report = selectors.audit_chain_verify()
    anchors = selectors.audit_anchor_list()
    return render(
        request, "compliance/audit_verify.html", {"report": report, "anchors": anchors}, status=200
    )
