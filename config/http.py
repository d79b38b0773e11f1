"""Web helpers every app shares: which address a request came from."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


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
