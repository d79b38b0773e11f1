"""The live camera capture pages (issue 22 item 2): the requester's capture page and the DPO's review.

The requester's page is token-free like the status page: it lives under the status page's path, so the
browser sends the status cookie the emailed link's page set (subjects/views.py, "Secret links"); without
it the page is a 404. The service is subjects/capture.py; docs/capture.md describes the flow.
"""

from __future__ import annotations

import json
import math

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.files.uploadhandler import StopUpload
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.http import AuthenticatedHttpRequest
from config.http import client_ip
from search import liveness
from subjects import capture
from subjects.models import LiveCapture
from subjects.selectors import dpo_required
from subjects.uploads import SelfieMemoryHandler
from subjects.views import STATUS_COOKIE, _remember, _request_by_token, _status_path


def _step_words() -> dict[str, str]:
    """Each pose of a challenge in words, in the visitor's language."""
    return {
        "neutral": _("Look straight at the camera."),
        "left": _("Turn your head to your left."),
        "right": _("Turn your head to your right."),
        "up": _("Look up."),
        "down": _("Look down."),
    }


def _plan(steps: tuple[str, ...]) -> list[str]:
    """The frames the page takes: one looking at the camera, one per asked pose, then back to the camera
    until there are at least ``liveness.MIN_FRAMES``."""
    plan = ["neutral", *steps]
    while len(plan) < liveness.MIN_FRAMES:
        plan.append("neutral")
    return plan


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
def capture_page(request: HttpRequest, reference: str) -> HttpResponse:
    """The challenge in words and the camera; a new challenge (and nonce) at every visit."""
    subject_request, token = _request_by_token(request, reference, None)
    context: dict[str, object] = {
        "req": subject_request,
        "status_link": _status_path(reference),
        "dpo_email": settings.DPO_EMAIL,
        "language_next": reverse("subjects:capture_page", args=[reference]),
    }
    status = 200
    try:
        challenge = capture.capture_challenge_issue(request=subject_request)
    except capture.CaptureRefused as exc:
        context["refused"] = exc.reason
        status = exc.status
    else:
        words = _step_words()
        context.update(
            challenge=challenge,
            steps=[{"pose": pose, "words": words[pose]} for pose in _plan(challenge.steps)],
            asked=[words[s] for s in challenge.steps],
            submit_url=reverse("subjects:capture_submit", args=[reference]),
        )
    response = render(request, "subjects/capture.html", context, status=status)
    return _no_store(_remember(response, STATUS_COOKIE, token, _status_path(reference)))


def _times(raw: str) -> list[float] | None:
    """The browser's capture times (JSON list of Unix seconds), or None when absent or unreadable."""
    if not raw:
        return None
    try:
        values = json.loads(raw)
    except ValueError:
        return [math.nan]
    if not isinstance(values, list) or len(values) > liveness.MAX_FRAMES + 1:
        return [math.nan]
    return [v if isinstance(v, int | float) else math.nan for v in values]


@csrf_exempt  # the frames stay in memory: handlers are set before CSRF reads the body; csrf_protect runs below
@require_POST
def capture_submit(request: HttpRequest, reference: str) -> HttpResponse:
    request.upload_handlers = [SelfieMemoryHandler(request)]
    try:
        request.POST  # noqa: B018 - parse now, with the memory-only handler
    except StopUpload:
        return JsonResponse({"message": _("The photos are too large.")}, status=413)
    return _capture_submit(request, reference)


@csrf_protect
def _capture_submit(request: HttpRequest, reference: str) -> HttpResponse:
    subject_request, token = _request_by_token(request, reference, None)
    uploads = request.FILES.getlist("frame")
    if any(getattr(f, "too_large", False) for f in uploads):
        return JsonResponse({"message": _("The photos are too large.")}, status=413)
    frames = [f.read() for f in uploads[: liveness.MAX_FRAMES + 1]]
    try:
        capture.capture_submit(
            request=subject_request,
            nonce=request.POST.get("nonce", ""),
            frames=frames,
            captured_at=_times(request.POST.get("captured_at", "")),
            ip=client_ip(request),
        )
    except capture.CaptureRefused as exc:
        return _no_store(JsonResponse({"message": exc.reason}, status=exc.status))
    finally:
        frames = []
    # Never "verified": the DPO decides, with the checks as aids.
    message = _(
        "We received your capture. The data protection officer will review it and tell you by email."
    )
    messages.success(request, message)
    response = JsonResponse({"message": message, "next": _status_path(reference)})
    return _no_store(_remember(response, STATUS_COOKIE, token, _status_path(reference)))


# --- DPO ------------------------------------------------------------------------------------------


def _capture(reference: str, capture_id: int) -> LiveCapture:
    found = (
        LiveCapture.objects.filter(pk=capture_id, request__reference=reference)
        .select_related("request")
        .first()
    )
    if found is None:
        raise Http404
    return found


@login_required
@require_GET
def capture_frame(
    request: AuthenticatedHttpRequest, reference: str, capture_id: int, number: int
) -> HttpResponse:
    """One frame, decrypted on the fly for the DPO; never cached."""
    dpo_required(user=request.user)
    found = _capture(reference, capture_id)
    frames = capture.capture_frames(capture=found, actor=request.user)
    if not 0 <= number < len(frames):
        raise Http404
    response = HttpResponse(frames[number], content_type="image/jpeg")
    response["X-Content-Type-Options"] = "nosniff"
    return _no_store(response)


@login_required
@require_http_methods(["POST"])
def capture_decide(
    request: AuthenticatedHttpRequest, reference: str, capture_id: int
) -> HttpResponse:
    dpo_required(user=request.user)
    found = _capture(reference, capture_id)
    decision = request.POST.get("decision", "")
    if decision not in ("accept", "refuse"):
        messages.error(request, "Choose Accept or Refuse.")
    else:
        try:
            capture.capture_decide(
                capture=found,
                accepted=decision == "accept",
                actor=request.user,
                ip=client_ip(request),
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            verb = "accepted" if decision == "accept" else "refused"
            messages.success(request, f"Live capture {verb} and recorded; its frames are deleted.")
    return redirect(reverse("subjects:detail", args=[reference]) + "#live-captures")
