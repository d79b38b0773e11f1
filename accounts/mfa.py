"""Two-factor enrolment that works in a browser.

allauth's TOTP activation form makes a fresh secret on every unbound load, so any second
load of the page (a reload, a background request) leaves a stale QR code on screen. Here
the pending secret stays in the session until it is activated (allauth then clears it).
The code typed to activate the authenticator also counts as a reauthentication, so the
recovery codes shown right after enrolment do not ask for the password again.
"""

from __future__ import annotations

from typing import Any

from allauth.account.internal.flows.login import record_authentication
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.forms import ActivateTOTPForm
from allauth.mfa.totp.internal import auth as totp_auth
from django import forms


class StableActivateTOTPForm(ActivateTOTPForm):
    """Keeps the pending secret across page loads (settings.MFA_FORMS["activate_totp"])."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.user = kwargs.pop("user")
        forms.Form.__init__(self, *args, **kwargs)
        self.secret = totp_auth.get_totp_secret(regenerate=False)


def record_enrolment_as_reauthentication(
    sender: Any, request: Any = None, user: Any = None, authenticator: Any = None, **kwargs: Any
) -> None:
    """A TOTP code just verified for a new authenticator proves the user is present."""
    if request is None or authenticator is None or authenticator.type != Authenticator.Type.TOTP:
        return
    record_authentication(
        request, user, "mfa", id=authenticator.pk, type=authenticator.type, reauthenticated=True
    )


def connect() -> None:
    from allauth.mfa import signals

    signals.authenticator_added.connect(
        record_enrolment_as_reauthentication, dispatch_uid="accounts.mfa.enrolment_reauthentication"
    )
