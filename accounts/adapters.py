"""django-allauth adapter: signup is open only to holders of a valid invitation."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest

from accounts import services
from config.http import client_ip

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
