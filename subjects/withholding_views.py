"""The DPO's pages for the portal's guards (issue 22): Art 23 withholding claims to approve or refuse, and abuse
signals to look at and close.

The withholding claims are organisations' claims on their searches, and the service that decides them is search's
(search.withholding: search owns writes to its tables); the pages live here because the DPO works them beside the
subject requests, under /rights/dpo/, with the same permission.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.http import AuthenticatedHttpRequest
from config.http import client_ip
from search import withholding
from search.models import SearchRequest
from subjects import abuse
from subjects.models import AbuseSignal
from subjects.selectors import dpo_required


@login_required
@require_GET
def withholdings(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Every claim, pending first: the organisation, the search's case, the basis and reference."""
    dpo_required(user=request.user)
    claims = list(withholding.access_restriction_claim_list())
    claims.sort(key=lambda s: s.access_restriction != SearchRequest.AccessRestriction.PENDING)
    return render(request, "subjects/withholdings.html", {"claims": claims[:500]})


@login_required
@require_POST
def withholding_decide(request: AuthenticatedHttpRequest, search_id: int) -> HttpResponse:
    dpo_required(user=request.user)
    search = SearchRequest.objects.filter(pk=search_id).exclude(access_restriction="").first()
    if search is None:
        raise Http404
    approve = request.POST.get("decision") == "approve"
    try:
        withholding.search_access_restriction_decide(
            search=search,
            approve=approve,
            actor=request.user,
            note=request.POST.get("note", ""),
            ip=client_ip(request),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except withholding.WithholdingRefused as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            "Claim approved: it is withheld from access packages." if approve else "Claim refused.",
        )
    return redirect("subjects:withholdings")


@login_required
@require_GET
def abuse_signals(request: AuthenticatedHttpRequest) -> HttpResponse:
    dpo_required(user=request.user)
    show = request.GET.get("show", "open")
    signals = AbuseSignal.objects.prefetch_related("requests")
    if show == "open":
        signals = signals.filter(status=AbuseSignal.Status.OPEN)
    rows = [(s, abuse.evidence_lines(s)) for s in signals[:500]]
    return render(request, "subjects/abuse_signals.html", {"rows": rows, "show": show})


@login_required
def abuse_signal(request: AuthenticatedHttpRequest, signal_id: int) -> HttpResponse:
    dpo_required(user=request.user)
    signal = AbuseSignal.objects.filter(pk=signal_id).first()
    if signal is None:
        raise Http404
    if request.method == "POST":
        note = request.POST.get("note", "").strip()
        if not note:
            messages.error(request, "Say what you found or did before closing the signal.")
        else:
            abuse.abuse_signal_close(
                signal=signal, actor=request.user, note=note, ip=client_ip(request)
            )
            messages.success(request, "Signal closed.")
            return redirect("subjects:abuse_signals")
    context = {
        "signal": signal,
        "lines": abuse.evidence_lines(signal),
        "requests": signal.requests.order_by("received_at"),
    }
    return render(request, "subjects/abuse_signal.html", context)
