"""API authentication policy and the API's one error shape.

- ``ApiTokenAuthentication``: ``Authorization: Token <key>``, looked up by the key's SHA-256 (only
  the hash is stored); an expired token is 401 ``token_expired``; a token of a deactivated account
  or of a member of a deactivated organisation is 403 ``account_deactivated`` /
  ``organisation_deactivated`` (the same rule as the session middleware: ``user_access_refusal``).
- ``MFAEnrolled``: a token (or session) of a user whose role requires two-factor authentication
  works only once that user has enrolled TOTP; otherwise 403 ``mfa_required``. The session
  middleware cannot see token requests, so the API checks it here.
- ``api_exception_handler`` (now ``config.api_errors``, re-exported here): the one error shape.
"""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from accounts.selectors import user_access_refusal, user_has_mfa, user_requires_mfa
from config.api_errors import api_exception_handler  # noqa: F401  (re-exported: the old path)

MFA_REQUIRED_MESSAGE = (
    "Your role requires two-factor authentication, and you have not set it up. "
    "Log in to the website, set up two-factor authentication, then use this token again."
)


TOKEN_EXPIRED_MESSAGE = "This API token has expired. Create a new one on your account page."  # noqa: S105 (a message)


class ApiTokenAuthentication(TokenAuthentication):
    """DRF's ``Token`` header, checked against ``accounts.ApiToken`` (hashed, expiring)."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        from django.utils import timezone

        from accounts.models import ApiToken
        from accounts.tokens import api_token_hash, api_token_touch

        token = ApiToken.objects.select_related("user").filter(key_hash=api_token_hash(key)).first()
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if token.expires_at <= timezone.now():
            raise exceptions.AuthenticationFailed(TOKEN_EXPIRED_MESSAGE, code="token_expired")
        refusal = user_access_refusal(user=token.user)
        if refusal is not None:
            raise exceptions.PermissionDenied(refusal.message, code=refusal.code)
        api_token_touch(token=token)  # "last used": at most one write a minute per token
        return token.user, token


class MFAEnrolled(BasePermission):
    message = MFA_REQUIRED_MESSAGE
    code = "mfa_required"

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            return True  # IsAuthenticated answers for those
        return not user_requires_mfa(user=user) or user_has_mfa(user=user)  # type: ignore[arg-type]
