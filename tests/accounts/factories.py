"""Factories for accounts: real rows in the real database."""

from __future__ import annotations

import itertools

from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.contrib.auth.models import Group

from accounts.models import Membership, Organisation, Role, User

PASSWORD = "correct horse battery staple 42"
_seq = itertools.count(1)


def organisation(name: str | None = None) -> Organisation:
    n = next(_seq)
    return Organisation.objects.create(name=name or f"Org {n}", slug=f"org-{n}")


def user(*, email: str | None = None, password: str = PASSWORD, **extra: object) -> User:
    email = email or f"user{next(_seq)}@example.com"
    u = User.objects.create_user(email=email, password=password, **extra)
    EmailAddress.objects.create(user=u, email=u.email, verified=True, primary=True)
    return u


def member(org: Organisation, *, role: str = Role.ANALYST, **extra: object) -> User:
    u = user(**extra)
    Membership.objects.create(user=u, organisation=org, role=role)
    return u


def staff(group: str, **extra: object) -> User:
    u = user(**extra)
    u.groups.add(Group.objects.get(name=group))
    return u


def with_totp(u: User) -> str:
    """Enrol a TOTP authenticator for ``u``; returns the secret to compute codes."""
    secret = generate_totp_secret()
    TOTP.activate(u, secret)
    return secret


def totp_code(secret: str, offset: int = 0) -> str:
    """The current code for ``secret`` (offset in 30-second steps)."""
    import time

    from allauth.mfa import app_settings as mfa_settings
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

    # The current step, as an authenticator app shows it. (The first counter of allauth's
    # tolerance window is the previous step: a code for it is refused once the next step
    # begins, which made browser tests fail now and then on a loaded machine.)
    counter = int(time.time()) // mfa_settings.TOTP_PERIOD + offset
    return format_hotp_value(hotp_value(secret, counter))


def api_token(u: User) -> str:
    """A new API token for ``u`` through the real service (only its hash is stored); returns the key."""
    from accounts.services import api_token_rotate

    return api_token_rotate(user=u)
