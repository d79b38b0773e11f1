"""Session policies: a deactivated organisation's members are logged out; staff and org admins enrol
a second factor before anything else."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from accounts.selectors import AccessRefusal, user_access_refusal, user_has_mfa, user_requires_mfa

# Pages a user without a second factor may still open: enrolment itself, logout, health.
ALLOWED_PREFIXES = ("/accounts/2fa/", "/accounts/logout/", "/accounts/reauthenticate/", "/healthz")
# Files a browser fetches on its own (icons, assets). Redirecting them would load the
# enrolment page in the background, so they pass through untouched.
ASSET_PATHS = (
    "/favicon.ico",
    "/robots.txt",
    "/apple-touch-icon.png",
    "/apple-touch-icon-precomposed.png",
)
# Where the user was going when sent to enrol; offered again once enrolment is done.
NEXT_SESSION_KEY = "mfa_next"  # read by templates/mfa/recovery_codes/index.html
MESSAGE = "Two-factor authentication must be set up first."


def _asset_prefixes() -> tuple[str, ...]:
    prefixes = []
    for url in (settings.STATIC_URL, settings.MEDIA_URL):
        if url:
            prefixes.append(url if url.startswith("/") else f"/{url}")
    return tuple(prefixes)


def wants_html_page(request: HttpRequest) -> bool:
    """True for a top-level page load in a browser: not htmx, XHR or fetch of non-HTML."""
    if (
        request.headers.get("HX-Request")
        or request.headers.get("X-Requested-With") == "XMLHttpRequest"
    ):
        return False
    accept = request.headers.get("Accept", "")
    return not accept or "text/html" in accept or accept.strip() == "*/*"


class RequireMFAMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.asset_prefixes = _asset_prefixes()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path
        if (
            path in ASSET_PATHS
            or path.startswith(self.asset_prefixes)
            or path.startswith(ALLOWED_PREFIXES)
        ):
            return self.get_response(request)
        user = request.user
        if (
            user.is_authenticated
            and user_requires_mfa(user=user)  # type: ignore[arg-type]
            and not user_has_mfa(user=user)  # type: ignore[arg-type]
        ):
            if path.startswith("/api/"):
                return JsonResponse(
                    {"error": {"code": "mfa_required", "message": MESSAGE}}, status=403
                )
            if request.method != "GET" or not wants_html_page(request):
                # A background request must not open (and so reset) the enrolment page.
                return HttpResponse(MESSAGE, status=403, content_type="text/plain; charset=utf-8")
            if url_has_allowed_host_and_scheme(request.get_full_path(), allowed_hosts=None):
                request.session[NEXT_SESSION_KEY] = request.get_full_path()
            messages.warning(
                request, "Your role needs two-factor authentication. Set it up to continue."
            )
            return redirect(reverse("mfa_activate_totp"))
        return self.get_response(request)


def access_refused_response(request: HttpRequest, refusal: AccessRefusal) -> HttpResponse:
    """The one answer to a refused user: JSON under /api/, otherwise a page that says why (403)."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"error": {"code": refusal.code, "message": refusal.message}}, status=403
        )
    return render(request, "accounts/access_refused.html", {"refusal": refusal}, status=403)


class ActiveAccessMiddleware:
    """A session of a member of a deactivated organisation ends at its next request, with a page saying so.

    Token requests are refused by ``accounts.api_auth.ApiTokenAuthentication`` (the session is not
    theirs); a deactivated account has no session at all (Django's backends refuse inactive users).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.asset_prefixes = _asset_prefixes()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path
        if (
            path in ASSET_PATHS
            or path.startswith(self.asset_prefixes)
            or path.startswith("/healthz")
        ):
            return self.get_response(request)
        user = request.user
        if user.is_authenticated:
            refusal = user_access_refusal(user=user)  # type: ignore[arg-type]
            if refusal is not None:
                logout(request)
                return access_refused_response(request, refusal)
        return self.get_response(request)
