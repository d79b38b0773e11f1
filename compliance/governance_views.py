"""DPO and auditor pages for retention, legal holds, sweeps, the Art 30 record and the dashboard."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.http import AuthenticatedHttpRequest
from compliance import reports, retention
from compliance.forms import LegalHoldForm, RetentionPolicyForm
from compliance.models import LegalHold, RetentionPolicy, SweepReceipt
from compliance.services import audit_record
from compliance.tasks import jurisdiction_sweep, retention_sweep_all
from config.http import client_ip
from config.tasks import enqueue_on_commit


def _require(request: AuthenticatedHttpRequest, *perms: str) -> None:
    if not any(request.user.has_perm(p) for p in perms):
        raise PermissionDenied


@login_required
def retention_policies(request: AuthenticatedHttpRequest) -> HttpResponse:
    _require(request, "accounts.manage_retention", "accounts.view_reports")
    policies = RetentionPolicy.objects.all()
    backlog = retention.retention_backlog()
    rows = [(p, backlog.get(p.data_class)) for p in policies]
    return render(
        request,
        "compliance/retention.html",
        {"rows": rows, "can_edit": request.user.has_perm("accounts.manage_retention")},
    )


@login_required
def retention_policy_edit(request: AuthenticatedHttpRequest, policy_id: int) -> HttpResponse:
    _require(request, "accounts.manage_retention")
    policy = RetentionPolicy.objects.filter(pk=policy_id).first()
    if policy is None:
        raise Http404
    initial = {"period_days": policy.period_days, "action": policy.action, "why": policy.reason}
    form = RetentionPolicyForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            retention.retention_policy_update(
                policy=policy, actor=request.user, ip=client_ip(request), **form.cleaned_data
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"{policy.get_data_class_display()}: policy saved.")
            return redirect("compliance:retention")
    context = {
        "policy": policy,
        "form": form,
        "history": retention.retention_policy_history(policy=policy),
    }
    return render(
        request, "compliance/retention_edit.html", context, status=400 if form.errors else 200
    )


@login_required
@require_POST
def retention_sweep_now(request: AuthenticatedHttpRequest) -> HttpResponse:
    _require(request, "accounts.manage_retention")
    kind = request.POST.get("kind", "retention")
    if kind == "jurisdiction":
        _require(request, "accounts.run_jurisdiction_sweeps")
    with transaction.atomic():
        audit_record(
            actor=request.user,
            action=f"compliance.{kind}_sweep.requested",
            target="compliance.sweep",
            outcome="success",
            ip=client_ip(request),
        )
        # The DPO who starts a sweep is credited on its receipt (a scheduled sweep is "system").
        actor_id = request.user.pk
        if kind == "jurisdiction":
            enqueue_on_commit(jurisdiction_sweep, actor_id)
        else:
            enqueue_on_commit(retention_sweep_all, actor_id)
    messages.success(request, "The sweep is queued; its receipt appears below when it finishes.")
    return redirect("compliance:receipts")


@login_required
@require_GET
def receipts(request: AuthenticatedHttpRequest) -> HttpResponse:
    _require(request, "accounts.manage_retention", "accounts.view_reports")
    return render(
        request, "compliance/receipts.html", {"receipts": SweepReceipt.objects.all()[:200]}
    )


@login_required
def legal_holds(request: AuthenticatedHttpRequest) -> HttpResponse:
    _require(request, "accounts.manage_retention", "accounts.view_reports")
    can_edit = request.user.has_perm("accounts.manage_retention")
    form = LegalHoldForm(request.POST or None)
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied
        if form.is_valid():
            data = form.cleaned_data
            try:
                retention.legal_hold_create(
                    scope=data["scope"],
                    reason=data["reason"],
                    actor=request.user,
                    ip=client_ip(request),
                    organisation=data["organisation"],
                    source_label=data["source_label"],
                    face_id=data["face_id"],
                    request_reference=data["request_reference"],
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, "Legal hold placed.")
                return redirect("compliance:legal_holds")
    context = {
        "holds": LegalHold.objects.select_related("organisation", "created_by", "released_by")[
            :200
        ],
        "form": form,
        "can_edit": can_edit,
    }
    return render(
        request, "compliance/legal_holds.html", context, status=400 if form.errors else 200
    )


@login_required
@require_POST
def legal_hold_release(request: AuthenticatedHttpRequest, hold_id: int) -> HttpResponse:
    _require(request, "accounts.manage_retention")
    hold = LegalHold.objects.filter(pk=hold_id).first()
    if hold is None:
        raise Http404
    try:
        retention.legal_hold_release(hold=hold, actor=request.user, ip=client_ip(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Legal hold released.")
    return redirect("compliance:legal_holds")


@login_required
@require_GET
def records_of_processing(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The Art 30 record, generated from live configuration; printable (and Save as PDF)."""
    _require(request, "accounts.view_reports")
    return render(request, "compliance/art30.html", {"record": reports.art30_record()})


@login_required
@require_GET
def dashboard(request: AuthenticatedHttpRequest) -> HttpResponse:
    _require(request, "accounts.view_reports")
    return render(request, "compliance/dashboard.html", reports.dashboard_data())
