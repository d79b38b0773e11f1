"""API authentication policy and the API's one error shape.

- ``ApiTokenAuthentication``: ``Authorization: Token <key>``, looked up by the key's SHA-256 (only
  the hash is stored); an expired token is 401 ``token_expired``; a token of a deactivated account
  or of a member of a deactivated organisation is 403 ``account_deactivated`` /
  ``organisation_deactivated`` (the same rule as the session middleware: ``user_access_refusal``).
- ``MFAEnrolled``: a token (or session) of a user whose role requires two-factor authentication
  works only once that user has enrolled TOTP; otherwise 403 ``mfa_required``. The session
  middleware cannot see token requests, so the API checks it here.
- ``api_exception_handler``: every error the API answers is ``{"error": {"code", "message"}}``
  (plus ``fields`` for invalid input); a missing or invalid token is 401 with
  ``WWW-Authenticate: Token``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.authentication import TokenAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.selectors import user_access_refusal, user_has_mfa, user_requires_mfa

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


_CODES = {
    status.HTTP_400_BAD_REQUEST: "invalid",
    status.HTTP_401_UNAUTHORIZED: "not_authenticated",
    status.HTTP_403_FORBIDDEN: "permission_denied",
    status.HTTP_404_NOT_FOUND: "not_found",
    status.HTTP_405_METHOD_NOT_ALLOWED: "method_not_allowed",
    status.HTTP_406_NOT_ACCEPTABLE: "not_acceptable",
    status.HTTP_413_REQUEST_ENTITY_TOO_LARGE: "too_large",
    status.HTTP_415_UNSUPPORTED_MEDIA_TYPE: "unsupported_media_type",
    status.HTTP_429_TOO_MANY_REQUESTS: "limit_exceeded",
}
_MESSAGES = {
    "not_authenticated": "Send your API token in the header 'Authorization: Token <key>'.",
    "authentication_failed": "This API token is not valid (it may have been revoked). Create a new one on your account page.",
    "not_found": "Not found.",
}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, reshaped into the documented error body."""
    from rest_framework.views import (
        exception_handler,
    )  # not at import time: DRF's settings import this module

    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None  # not an API error: Django's own handling (and the 503/500 pages) apply
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        response.status_code = status.HTTP_401_UNAUTHORIZED
        response["WWW-Authenticate"] = "Token"
    code = _CODES.get(response.status_code, "error")
    detail: Any = getattr(exc, "detail", None)
    fields = None
    if isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        if isinstance(codes, str):
            code = {
                "authentication_failed": "authentication_failed",
                "mfa_required": "mfa_required",
                "token_expired": "token_expired",
                "organisation_deactivated": "organisation_deactivated",
                "account_deactivated": "account_deactivated",
            }.get(codes, code)
        if isinstance(detail, dict | list):
            fields, message = detail, "Some fields are missing or invalid."
        else:
            message = _MESSAGES.get(code) or str(detail)
    else:
        message = str(exc)
    body: dict[str, Any] = {"code": code, "message": message}
    if fields is not None:
        body["fields"] = fields
    response.data = {"error": body}
    return response
