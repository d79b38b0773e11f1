"""Writes for API tokens: create (named, with an expiry), revoke, record a use. Audited; the key is
never stored (only its SHA-256) and never logged."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import ApiToken, User
from audit.services import audit_record


def api_token_hash(key: str) -> str:
    """What is stored for an API token: the SHA-256 of its key (256 random bits, so no salt is needed)."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class ApiTokenCreated:
    token: ApiToken
    key: str  # shown once to its owner, never stored


def _token_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError({"name": "Give the token a name, e.g. the integration that uses it."})
    if len(name) > 100:
        raise ValidationError({"name": "A token name has at most 100 characters."})
    return name


def _token_expiry(expires_at: datetime | None, now: datetime) -> datetime:
    if expires_at is None:
        return now + timedelta(days=settings.API_TOKEN_VALID_DAYS)
    if expires_at <= now:
        raise ValidationError({"expires_at": "The expiry must be in the future."})
    if expires_at > now + timedelta(days=settings.API_TOKEN_MAX_VALID_DAYS):
        raise ValidationError(
            {"expires_at": f"A token may last at most {settings.API_TOKEN_MAX_VALID_DAYS} days."}
        )
    return expires_at


@transaction.atomic
def api_token_create(
    *,
    user: User,
    name: str = "API token",
    expires_at: datetime | None = None,
    ip: str | None = None,
) -> ApiTokenCreated:
    """Create one more named API token for ``user``; the key is returned once, only its hash is kept.

    ``expires_at`` defaults to ``API_TOKEN_VALID_DAYS`` from now and may be at most
    ``API_TOKEN_MAX_VALID_DAYS`` away. Raises ValidationError for a blank or over-long name, an
    expiry in the past or too far, or a user at ``API_TOKENS_PER_USER``. Audited (never the key).
    """
    name = _token_name(name)
    now = timezone.now()
    expires_at = _token_expiry(expires_at, now)
    User.objects.select_for_update().filter(pk=user.pk).first()  # one count per user at a time
    if ApiToken.objects.filter(user=user).count() >= settings.API_TOKENS_PER_USER:
        raise ValidationError(
            f"You hold {settings.API_TOKENS_PER_USER} tokens, the most allowed: revoke one first."
        )
    key = secrets.token_hex(32)  # 256 random bits, as 64 hex characters (safe in any header)
    token = ApiToken.objects.create(
        user=user, name=name, key_hash=api_token_hash(key), created_at=now, expires_at=expires_at
    )
    audit_record(
        actor=user,
        action="accounts.api_token.created",
        target=user,
        outcome="success",
        ip=ip,
        details={"token_id": token.pk, "name": name, "expires_at": expires_at.isoformat()},
    )
    return ApiTokenCreated(token=token, key=key)


@transaction.atomic
def api_token_rotate(*, user: User, name: str = "API token", ip: str | None = None) -> str:
    """Replace the user's tokens of this name with a new one (scripts, benches); returns the key.

    Tokens of other names stay. Each revocation and the creation are audited.
    """
    for token in ApiToken.objects.filter(user=user, name=name):
        api_token_revoke(token=token, actor=user, ip=ip)
    return api_token_create(user=user, name=name, ip=ip).key


@transaction.atomic
def api_token_revoke(*, token: ApiToken, actor: User, ip: str | None = None) -> None:
    """Revoke (delete) one token; audited with its id and name. The caller checked the access
    (``accounts.selectors.access_api_token``): its owner, or an admin of the owner's organisation."""
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    details = {"token_id": token.pk, "name": token.name}
    if actor.pk != token.user_id:
        details["reason"] = "revoked_by_org_admin"
    token.delete()
    audit_record(
        actor=actor,
        action="accounts.api_token.revoked",
        target=token.user,
        outcome="success",
        ip=ip,
        details=details,
    )


def api_token_touch(*, token: ApiToken) -> None:
    """Record that ``token`` was used: at most one write a minute per token, whatever the traffic.

    The condition sits in the UPDATE, so concurrent requests write at most once between them. Not
    audited: a use is not a change of access, and the request itself is logged where it matters.
    """
    now = timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < timedelta(minutes=1):
        return
    ApiToken.objects.filter(pk=token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - timedelta(minutes=1))
    ).update(last_used_at=now)
