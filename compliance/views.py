"""Staff pages (DPO and auditor). Read-only for auditors."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from compliance import selectors


def _require_any(request: HttpRequest, *perms: str) -> None:
    if not any(request.user.has_perm(p) for p in perms):
        raise PermissionDenied


@login_required
def staff_home(request: HttpRequest) -> HttpResponse:
    _require_any(request, "accounts.dpo_access", "accounts.auditor_access")
    return render(request, "compliance/staff_home.html")


@login_required
def audit_log(request: HttpRequest) -> HttpResponse:
    _require_any(request, "accounts.view_audit_log")
    action = request.GET.get("action", "").strip()[:120] or None
    events = selectors.audit_event_list(action_prefix=action)
    return render(request, "compliance/audit_log.html", {"events": events, "action": action or ""})
