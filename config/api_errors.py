"""The API's one error shape: ``{"error": {"code", "message"}}`` for every error it answers.

- A service's ``config.errors.ApplicationError`` (a refusal) answers its own ``status`` with its
  ``code`` and ``message`` (and any ``extra`` fields): views need not catch it.
- DRF's errors keep their status with a stable code; invalid input adds ``fields``.
- A missing or invalid token is 401 with ``WWW-Authenticate: Token``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response

from config.errors import ApplicationError

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
    # Not at import time: DRF's settings import this module while rest_framework.views loads.
    from rest_framework.views import exception_handler

    if isinstance(exc, ApplicationError):
        # A service's refusal: its message, its code and its status, nothing changed.
        response = Response(exc.as_body(), status=exc.status)
        if exc.retry_after is not None:
            response["Retry-After"] = str(exc.retry_after)
        return response
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
