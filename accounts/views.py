"""HTML views for accounts: landing page, members and invitations (org admins)."""

from __future__ import annotations

from datetime import UTC, datetime, time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.http import require_POST

from accounts import selectors, services
from accounts.adapters import INVITATION_SESSION_KEY
from accounts.forms import ApiTokenCreateForm, InvitationForm, RoleForm
from accounts.http import AuthenticatedHttpRequest
from config.http import client_ip


@cache_control(max_age=86400, public=True)
def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico on their own: send them to the shipped icon."""
    return redirect(static("favicon.ico"), permanent=True)


@login_required
def members(request: AuthenticatedHttpRequest) -> HttpResponse:
    admin = selectors.access_org_admin_membership(user=request.user)
    form = InvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            sent = services.invitation_create(
                organisation=admin.organisation,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                invited_by=request.user,
                ip=client_ip(request),
            )
        except ValidationError as exc:
            form.add_error("email", exc)
        else:
            messages.success(request, f"Invitation sent to {sent.invitation.email}.")
            return redirect("accounts:members")
    context = {
        "organisation": admin.organisation,
        "members": selectors.member_list(user=request.user),
        "invitations": selectors.invitation_list(user=request.user),
        "form": form,
    }
    return render(request, "accounts/members.html", context, status=400 if form.errors else 200)


@login_required
def member_detail(request: AuthenticatedHttpRequest, membership_id: int) -> HttpResponse:
    membership = selectors.access_membership_by_id(user=request.user, membership_id=membership_id)
    form = RoleForm(request.POST or None, initial={"role": membership.role})
    if request.method == "POST" and form.is_valid():
        try:
            services.membership_set_role(
                membership=membership,
                role=form.cleaned_data["role"],
                actor=request.user,
                ip=client_ip(request),
            )
        except ValidationError as exc:
            form.add_error("role", exc)
        else:
            messages.success(
                request, f"{membership.user.email} is now {membership.get_role_display().lower()}."
            )
            return redirect("accounts:members")
    return render(
        request,
        "accounts/member_detail.html",
        {
            "member": membership,
            "form": form,
            "tokens": selectors.api_token_list(user=membership.user),
        },
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def member_remove(request: AuthenticatedHttpRequest, membership_id: int) -> HttpResponse:
    membership = selectors.access_membership_by_id(user=request.user, membership_id=membership_id)
    try:
        services.membership_remove(membership=membership, actor=request.user, ip=client_ip(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{membership.user.email} was removed.")
    return redirect("accounts:members")


@login_required
@require_POST
def invitation_revoke(request: AuthenticatedHttpRequest, invitation_id: int) -> HttpResponse:
    invitation = selectors.access_invitation_by_id(user=request.user, invitation_id=invitation_id)
    try:
        services.invitation_revoke(invitation=invitation, actor=request.user, ip=client_ip(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"The invitation for {invitation.email} was revoked.")
    return redirect("accounts:members")


def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """The link in the invitation email: remember the invitation and go to signup."""
    invitation = services.invitation_get_usable(token=token)
    if invitation is None:
        return render(request, "accounts/invitation_invalid.html", status=404)
    if request.user.is_authenticated:
        messages.info(request, "Log out first to accept an invitation for another account.")
        return redirect("home")
    request.session[INVITATION_SESSION_KEY] = invitation.pk
    # The link reached this address's inbox, so the address counts as verified.
    from allauth.account.adapter import get_adapter

    get_adapter(request).stash_verified_email(request, invitation.email)
    return redirect(f"{_signup_url()}?email={invitation.email}")


def _signup_url() -> str:
    from django.urls import reverse

    return reverse("account_signup")


@login_required
@never_cache  # the page that shows a new key once must not be kept by a cache
def api_token(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Members list their API tokens and create named ones; a new key is shown once (only its hash is kept)."""

    if selectors.membership_for(user=request.user) is None:
        raise Http404
    form = ApiTokenCreateForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        expires_on = form.cleaned_data["expires_on"]
        try:
            created = services.api_token_create(
                user=request.user,
                name=form.cleaned_data["name"],
                expires_at=datetime.combine(expires_on, time.min, UTC) if expires_on else None,
                ip=client_ip(request),
            )
        except ValidationError as exc:
            for field, errors in (exc.message_dict if hasattr(exc, "error_dict") else {}).items():
                form.add_error("expires_on" if field == "expires_at" else field, errors)
            if not hasattr(exc, "error_dict"):
                form.add_error(None, exc)
        else:
            form = ApiTokenCreateForm()
    context = {
        "form": form,
        "created": created,
        "tokens": selectors.api_token_list(user=request.user),
        "default_days": settings.API_TOKEN_VALID_DAYS,
        "max_days": settings.API_TOKEN_MAX_VALID_DAYS,
    }
    return render(request, "accounts/api_token.html", context, status=400 if form.errors else 200)


@login_required
def api_token_revoke(request: AuthenticatedHttpRequest, token_id: int) -> HttpResponse:
    """Revoke one token after a confirmation page: its holder, or an admin of their organisation."""
    token = selectors.access_api_token(user=request.user, token_id=token_id)
    own = token.user_id == request.user.pk
    back = (
        reverse("accounts:api_token")
        if own
        else reverse("accounts:member_detail", args=[token.user.membership.pk])
    )
    if request.method == "POST":
        services.api_token_revoke(token=token, actor=request.user, ip=client_ip(request))
        messages.success(request, f"The API token “{token.name}” was revoked.")
        return redirect(back)
    return render(
        request, "accounts/api_token_revoke.html", {"token": token, "own": own, "back": back}
    )
