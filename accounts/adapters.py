"""django-allauth adapter: signup is open only to holders of a valid invitation."""

from __future__ import annotations

import ipaddress
from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest

from accounts import services

INVITATION_SESSION_KEY = "accounts.invitation_id"


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        invitation_id = request.session.get(INVITATION_SESSION_KEY)
        if not invitation_id:
            return False
        from accounts.models import Invitation

        invitation = Invitation.objects.filter(pk=invitation_id).first()
        return invitation is not None and invitation.is_usable

    def pre_login(self, request: HttpRequest, user: Any, **kwargs: Any) -> Any:
        """A member of a deactivated organisation is not logged in: the page says why."""
        from accounts.middleware import access_refused_response
        from accounts.selectors import user_access_refusal

        refusal = user_access_refusal(user=user) if user.is_active else None
        if refusal is not None:
            from allauth.account.internal.stagekit import clear_login

            clear_login(request)
            return access_refused_response(request, refusal)
        return super().pre_login(request, user, **kwargs)

    def is_reauthentication_required(self, *, app: str, **kwargs: Any) -> bool:
        # Enrolling a first second factor right after a password login needs no second
        # password prompt: it only adds protection. Changing or removing an existing
        # factor still asks to reauthenticate.
        from allauth.core import context
        from allauth.mfa.models import Authenticator

        request = context.request
        if (
            app.endswith("mfa")
            and request is not None
            and request.user.is_authenticated
            and not Authenticator.objects.filter(user=request.user).exists()
        ):
            return False
        return bool(super().is_reauthentication_required(app=app, **kwargs))

    def clean_email(self, email: str) -> str:
        email = super().clean_email(email)
        invitation = self._session_invitation()
        if invitation is not None and invitation.email.lower() != email.strip().lower():
            raise ValidationError(
                f"Use the address the invitation was sent to ({invitation.email})."
            )
        return email

    def _session_invitation(self) -> Any:
        from allauth.core import context

        from accounts.models import Invitation

        request = context.request
        if request is None or not hasattr(request, "session"):
            return None
        invitation_id = request.session.get(INVITATION_SESSION_KEY)
        return Invitation.objects.filter(pk=invitation_id).first() if invitation_id else None

    def save_user(self, request: HttpRequest, user: Any, form: Any, commit: bool = True) -> Any:
        user = super().save_user(request, user, form, commit=commit)
        invitation_id = request.session.pop(INVITATION_SESSION_KEY, None)
        if commit and invitation_id:
            services.invitation_accept(
                invitation_id=invitation_id, user=user, ip=client_ip(request)
            )
        return user

    def get_client_ip(self, request: HttpRequest) -> str:
        """allauth's rate limits (login, signup, password reset) count per client address: ours."""
        ip = client_ip(request)
        if not ip:
            raise PermissionDenied("Unable to determine the client's address.")
        return ip


def _valid_ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """The client's address, for rate limits and the audit log; the one place that decides it.

    With ``TRUSTED_PROXY_COUNT = 0`` (the default) it is ``REMOTE_ADDR``: anything the client
    puts in ``X-Forwarded-For`` is ignored. Behind N trusted proxies, each appending the address
    it received the request from, the client is the Nth address from the right of
    ``X-Forwarded-For`` (addresses further left were written by the client and prove nothing).
    A header that is missing, too short or holds anything but IP addresses falls back to
    ``REMOTE_ADDR``.
    """
    remote = _valid_ip(request.META.get("REMOTE_ADDR") or "")
    count = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if count <= 0:
        return remote
    header = request.META.get("HTTP_X_FORWARDED_FOR") or ""
    hops = [_valid_ip(part) for part in header.split(",")]
    if not header.strip() or len(hops) < count or any(hop is None for hop in hops):
        return remote
    return hops[-count]
