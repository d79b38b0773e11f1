"""The DPO's pages for data-subject requests: the queue, a request's detail (candidates, decisions,
identity) and candidate thumbnails. The public request pages are in subjects/views.py."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Case, Value, When
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from accounts.http import AuthenticatedHttpRequest
from config.http import client_ip
from search.stewardship import images_held_for
from subjects import identity, services
from subjects.forms import (
    ExtendForm,
    IdentityProofForm,
    ReasonForm,
)
from subjects.models import Candidate, ErasureReceipt, RequestType, SubjectRequest
from subjects.selectors import dpo_required

# --- DPO ------------------------------------------------------------------------------------------


def _req(reference: str) -> SubjectRequest:
    found = SubjectRequest.objects.filter(reference=reference).first()
    if found is None:
        raise Http404
    return found


@login_required
@require_GET
def queue(request: AuthenticatedHttpRequest) -> HttpResponse:
    dpo_required(user=request.user)
    show = request.GET.get("show", "open")
    requests = SubjectRequest.objects.order_by("due_date", "received_at")
    if show == "open":
        requests = requests.exclude(status__in=["completed", "denied", "withdrawn", "lapsed"])
    return render(request, "subjects/queue.html", {"requests": requests[:500], "show": show})


# Actions whose reason is sent to the requester or recorded for a purpose; each has its own form prefix.
REASONED = ("ask_clarification", "deny", "lift_restriction")


def _candidate_ids(request: HttpRequest) -> list[int]:
    return [int(v) for v in request.POST.getlist("shown") if v.isdigit()]


@login_required
def detail(request: AuthenticatedHttpRequest, reference: str) -> HttpResponse:
    dpo_required(user=request.user)
    subject_request = _req(reference)
    if request.method == "POST":
        action = request.POST.get("action", "")
        ip = client_ip(request)
        reason = request.POST.get(f"{action}-reason", "") if action in REASONED else ""
        done = "Done."
        try:
            if action in services.TRANSITIONS:
                services.request_transition(
                    request=subject_request, action=action, actor=request.user, reason=reason, ip=ip
                )
            elif action == "extend":
                form = ExtendForm(request.POST, prefix="extend")
                if not form.is_valid():
                    raise ValidationError("Choose one or two months and give the reasons.")
                services.request_extend(
                    request=subject_request,
                    months=form.cleaned_data["months"],
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                    ip=ip,
                )
            elif action in ("confirm", "reject"):
                candidate_id = request.POST.get("candidate", "")
                candidate = (
                    subject_request.candidates.filter(pk=int(candidate_id)).first()
                    if candidate_id.isdigit()
                    else None
                )
                if candidate is None:
                    raise Http404
                before = subject_request.candidates.count()
                services.candidate_decide(
                    candidate=candidate, confirm=action == "confirm", actor=request.user, ip=ip
                )
                done = _found_more(subject_request, before)
            elif action in ("confirm_all", "reject_all"):
                before = subject_request.candidates.count()
                count = services.candidates_decide(
                    request=subject_request,
                    candidate_ids=_candidate_ids(request),
                    confirm=action == "confirm_all",
                    actor=request.user,
                    ip=ip,
                )
                verb = "Confirmed" if action == "confirm_all" else "Rejected"
                done = f"{verb} {count} candidate{'s' if count != 1 else ''}. " + _found_more(
                    subject_request, before
                )
            elif action == "execute":
                services.request_execute(
                    request=subject_request,
                    actor=request.user,
                    ip=ip,
                    rectified_jurisdiction=request.POST.get("jurisdiction", ""),
                )
            elif action == "record_proof":
                proof_form = IdentityProofForm(request.POST, prefix="proof")
                if not proof_form.is_valid():
                    raise ValidationError("Choose the method and the decision.")
                identity.identity_proof_record(
                    request=subject_request,
                    method=proof_form.cleaned_data["method"],
                    accepted=proof_form.cleaned_data["decision"] == "accepted",
                    note=proof_form.cleaned_data["note"],
                    actor=request.user,
                    ip=ip,
                )
                done = "Recorded how the requester was verified."
            elif action == "lift_restriction":
                services.restriction_lift(
                    request=subject_request, actor=request.user, reason=reason, ip=ip
                )
            else:
                messages.error(request, "Unknown action.")
                return redirect("subjects:detail", reference=reference)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, done.strip())
        return redirect("subjects:detail", reference=reference)
    # Proposals to judge first (likely ones before borderline), then what was decided.
    undecided = Case(When(status=Candidate.Status.PROPOSED, then=Value(0)), default=Value(1))
    candidates = list(
        subject_request.candidates.select_related("face__image").order_by(
            undecided, "borderline", "distance", "pk"
        )
    )
    clarify_form, lift_form = (
        ReasonForm(prefix="ask_clarification"),
        ReasonForm(prefix="lift_restriction"),
    )
    clarify_form.fields["reason"].label = "Your question (sent to the requester; the clock pauses)"
    lift_form.fields[
        "reason"
    ].label = "Reason (the requester is told before the restriction is lifted)"
    deny_form, extend_form = ReasonForm(prefix="deny"), ExtendForm(prefix="extend")
    deny_form.fields["reason"].label = "Reasons for refusing (sent to the requester)"
    extend_form.fields["reason"].label = "Reasons for the extension (sent to the requester)"
    held_photos: list[Any] = []
    if subject_request.is_open and subject_request.type in (
        RequestType.ERASURE,
        RequestType.OBJECTION,
    ):
        confirmed = [
            c.face_id for c in candidates if c.status == Candidate.Status.CONFIRMED and c.face_id
        ]
        held_photos = images_held_for(face_ids=confirmed) if confirmed else []
    context = {
        "req": subject_request,
        "candidates": candidates,
        "held_photos": held_photos,
        "undecided": sum(
            1 for c in candidates if c.status == Candidate.Status.PROPOSED and c.face_id
        ),
        "proposed": [c for c in candidates if c.status == Candidate.Status.PROPOSED and c.face_id],
        "clarifications": subject_request.clarifications.all(),
        "receipt": ErasureReceipt.objects.filter(request=subject_request).first(),
        "clarify_form": clarify_form,
        "deny_form": deny_form,
        "lift_form": lift_form,
        "extend_form": extend_form,
        "proof_form": IdentityProofForm(prefix="proof"),
        "proof": identity.identity_proof_latest(request=subject_request),
        "proven": identity.identity_proven(request=subject_request),
        "proof_needed": subject_request.type in services.DECIDE_FIRST
        or subject_request.type == RequestType.ACCESS,
        "S": SubjectRequest.Status,
    }
    return render(request, "subjects/detail.html", context)


def _found_more(subject_request: SubjectRequest, before: int) -> str:
    added = subject_request.candidates.count() - before
    if added <= 0:
        return "Done."
    return f"{added} further candidate{'s' if added != 1 else ''} found near the confirmed faces: please review them."


@login_required
@require_GET
def candidate_thumbnail(
    request: AuthenticatedHttpRequest, reference: str, candidate_id: int
) -> HttpResponse:
    dpo_required(user=request.user)
    candidate = (
        Candidate.objects.filter(pk=candidate_id, request__reference=reference)
        .select_related("face")
        .first()
    )
    if candidate is None or candidate.face is None or not candidate.face.crop:
        raise Http404
    with candidate.face.crop.open("rb") as fh:
        response = HttpResponse(fh.read(), content_type="image/jpeg")
    response["Cache-Control"] = "private, no-store"
    return response
