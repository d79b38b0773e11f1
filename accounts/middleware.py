"""MFA policy: staff and org admins enrol a second factor before anything else."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from accounts.selectors import user_has_mfa, user_requires_mfa

ALLOWED_PREFIXES = ("/accounts/2fa/", "/accounts/logout/", "/accounts/reauthenticate/", "/static/", "/healthz")


class RequireMFAMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            user.is_authenticated
            and not request.path.startswith(ALLOWED_PREFIXES)
            and user_requires_mfa(user=user)  # type: ignore[arg-type]
            and not user_has_mfa(user=user)  # type: ignore[arg-type]
        ):
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": "Two-factor authentication must be set up first."}, status=403)
            messages.warning(request, "Your role needs two-factor authentication. Set it up to continue.")
            return redirect(reverse("mfa_activate_totp"))
        return self.get_response(request)
