"""Outermost middleware: 503 while a backing service is down, and request bodies refused by size.

``ServiceUnavailableMiddleware`` must be first in MIDDLEWARE. Django turns an exception raised
anywhere inside (a view, or a middleware such as sessions or MFA reading the database) into a
500 response at the layer where it happened; the ``got_request_exception`` signal tells us
which exception it was, and this middleware swaps that 500 for a 503: JSON with
``Retry-After`` under /api/, a plain maintenance page (no database, no context processors)
for people.

``RequestSizeLimitMiddleware`` refuses a body from its ``Content-Length`` before anything reads
it, with per-path limits, so a 105 MB upload is never spooled to disk.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader

logger = logging.getLogger(__name__)

_UNAVAILABLE_ATTR = "_service_unavailable"


def _unavailable_errors() -> tuple[type[BaseException], ...]:
    from kombu.exceptions import OperationalError as BrokerError
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    return (OperationalError, InterfaceError, RedisConnectionError, RedisTimeoutError, BrokerError)


def is_unavailable_error(exc: BaseException | None) -> str:
    """Which service an exception says is down ("database", "queue", "storage"), or "" if it is another fault."""
    from config.storage import StorageUnavailable

    if exc is None:
        return ""
    if isinstance(exc, (OperationalError, InterfaceError)):
        return "database"
    if isinstance(exc, StorageUnavailable):
        return "storage"
    if isinstance(exc, _unavailable_errors()):
        return "queue"
    return ""


@receiver(got_request_exception, dispatch_uid="config.middleware.mark_unavailable")
def _mark_unavailable(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    service = is_unavailable_error(sys.exc_info()[1])
    if service and request is not None:
        setattr(request, _UNAVAILABLE_ATTR, service)


def _area(request: HttpRequest) -> str:
    """The first path segment only: paths can hold one-time tokens (verification, status links)."""
    return "/" + request.path.lstrip("/").split("/", 1)[0]


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def unavailable_response(request: HttpRequest, service: str) -> HttpResponse:
    retry = settings.SERVICE_UNAVAILABLE_RETRY_AFTER
    message = (
        f"The service is temporarily unavailable ({service}). Please try again in {retry} seconds."
    )
    response: HttpResponse
    if _is_api(request):
        response = JsonResponse({"error": {"code": "unavailable", "message": message}}, status=503)
    else:
        try:
            body = loader.get_template("503.html").render(
                {"message": message}
            )  # no request: no context processors
        except Exception:  # noqa: BLE001 (the page itself must never fail)
            body = f"<!DOCTYPE html><title>Temporarily unavailable</title><h1>Temporarily unavailable</h1><p>{message}</p>"
        response = HttpResponse(body, status=503, content_type="text/html; charset=utf-8")
    response["Retry-After"] = str(retry)
    response["Cache-Control"] = "no-store"
    return response


class ServiceUnavailableMiddleware:
    """A 500 caused by the database, Redis, the broker or the object storage being unreachable becomes a 503."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        service = getattr(request, _UNAVAILABLE_ATTR, "")
        if service and response.status_code >= 500:
            logger.warning("503 for %s %s: %s unavailable", request.method, _area(request), service)
            return unavailable_response(request, service)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        service = is_unavailable_error(exception)
        if service:
            logger.warning("503 for %s %s: %s unavailable", request.method, _area(request), service)
            return unavailable_response(request, service)
        return None


# --- request size --------------------------------------------------------------------

UPLOAD_OVERHEAD = 256 * 1024  # multipart boundaries and the other form fields


def body_limit_for(path: str) -> tuple[int, int, str]:
    """The largest body accepted on ``path``, the limit stated to the user, and what it limits."""
    if path.startswith(("/api/v1/searches/", "/search/")):
        return (
            settings.FACE_IMAGE_MAX_BYTES + UPLOAD_OVERHEAD,
            settings.FACE_IMAGE_MAX_BYTES,
            "photo",
        )
    if path.startswith("/rights/request/"):
        return (
            settings.SUBJECT_SELFIE_MAX_BYTES + UPLOAD_OVERHEAD,
            settings.SUBJECT_SELFIE_MAX_BYTES,
            "photo",
        )
    if path.startswith("/rights/requests/"):
        # An answer to the DPO's question: a photo somewhat over the limit reaches the page, which drops it
        # in memory and shows the error beside the question; far larger bodies are refused unread.
        return (
            2 * settings.SUBJECT_SELFIE_MAX_BYTES + UPLOAD_OVERHEAD,
            settings.SUBJECT_SELFIE_MAX_BYTES,
            "photo",
        )
    return settings.REQUEST_BODY_MAX_BYTES, settings.REQUEST_BODY_MAX_BYTES, "request"


def _refuse(request: HttpRequest, status: int, code: str, message: str) -> HttpResponse:
    if _is_api(request):
        response: HttpResponse = JsonResponse(
            {"error": {"code": code, "message": message}}, status=status
        )
    else:
        template = "413.html" if status == 413 else "400.html"
        body = loader.get_template(template).render({"message": message})
        response = HttpResponse(body, status=status, content_type="text/html; charset=utf-8")
    return response  # the server closes or drains the connection (WSGI apps may not set Connection)


class RequestSizeLimitMiddleware:
    """Refuse a request whose declared ``Content-Length`` is over its path's limit, unread."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        raw = request.META.get("CONTENT_LENGTH") or "0"
        try:
            length = int(raw)
            if length < 0:
                raise ValueError
        except ValueError:
            return _refuse(
                request, 400, "bad_request", "The Content-Length header is not a valid size."
            )
        limit, stated, what = body_limit_for(request.path)
        if length > limit:
            message = f"The {what} is too large: {length / 2**20:.1f} MB sent; the limit is {stated / 2**20:.0f} MB."
            return _refuse(request, 413, "too_large", message)
        return self.get_response(request)


# --- hostile input ---------------------------------------------------------------------

# PostgreSQL refuses a NUL in any text ("A string literal cannot contain NUL"), so a NUL that reaches a query
# (the session cookie's key, a reference in the path, a filter in the query string) was a 500 with a traceback
# page in development. Cookies are set by this site only: any C0 control character (or DEL) in one is refused.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _bad_input(request: HttpRequest) -> tuple[str, list[str]]:
    """What is malformed ("" when nothing), and the cookies to clear."""
    bad_cookies = [
        name
        for name, value in request.COOKIES.items()
        if _CONTROL.search(name) or _CONTROL.search(value)
    ]
    if bad_cookies:
        return "cookie", bad_cookies
    if "\x00" in request.path:
        return "path", []
    for key, values in request.GET.lists():
        if "\x00" in key or any("\x00" in value for value in values):
            return "query", []
    for key, value in request.META.items():
        if key.startswith("HTTP_") and isinstance(value, str) and "\x00" in value:
            return "header", []
    return "", []


class BadInputMiddleware:
    """A NUL in the path, a query value or a header, or a control character in a cookie: a plain 400.

    Cookies that carry one are cleared in the same answer, so a browser holding a bad session cookie gets
    one 400, not one on every page. Before the session, locale and CSRF middleware read any of them.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        where, cookies = _bad_input(request)
        if not where:
            return self.get_response(request)
        logger.warning(
            "400 for %s %s: a control character in the %s",
            request.method,
            _CONTROL.sub("?", _area(request)),
            where,
        )
        response = _refuse(
            request,
            400,
            "bad_request",
            f"The request's {where} holds a character that is not allowed.",
        )
        for name in cookies:
            if not _CONTROL.search(name):
                response.delete_cookie(name)
        return response
