"""The web's one place for a service's refusal (``config.errors.ApplicationError``).

A view may let the refusal propagate: ``ApplicationErrorMiddleware`` renders its message with its
status (nothing was changed). A view that shows the refusal on its own page (a form) calls
``refusal_response`` with that template. The API's counterpart is ``config.api_errors``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from config.errors import ApplicationError

logger = logging.getLogger(__name__)


def refusal_response(
    request: HttpRequest,
    exc: ApplicationError,
    *,
    template: str = "refused.html",
    context: dict[str, Any] | None = None,
) -> HttpResponse:
    """The refusal rendered with its message and code, answered with its status."""
    full = {"message": exc.message, "code": exc.code, **(context or {})}
    response = render(request, template, full, status=exc.status)
    if exc.retry_after is not None:
        response["Retry-After"] = str(exc.retry_after)
    return response


class ApplicationErrorMiddleware:
    """Turns a refusal a view let through into its page; any other exception is left alone."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, ApplicationError):
            return None
        logger.info("refused %s: %s", request.method, exception.code)  # the path may hold a token
        return refusal_response(request, exception)
