"""The client address behind 0, 1 or 2 trusted proxies: one function, used by our code and allauth."""

from __future__ import annotations

import pytest
from allauth.account.adapter import get_adapter
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory

from config.http import client_ip

CASES = [
    # (trusted proxies, REMOTE_ADDR, X-Forwarded-For, expected)
    pytest.param(0, "10.0.0.9", "", "10.0.0.9", id="no-proxy-no-header"),
    pytest.param(0, "10.0.0.9", "203.0.113.7", "10.0.0.9", id="no-proxy-ignores-a-spoofed-header"),
    pytest.param(1, "10.0.0.9", "203.0.113.7", "203.0.113.7", id="one-proxy"),
    pytest.param(
        1,
        "10.0.0.9",
        "198.51.100.1, 203.0.113.7",
        "203.0.113.7",
        id="one-proxy-client-prepends-a-lie",
    ),
    pytest.param(
        2, "10.0.0.9", "198.51.100.1, 203.0.113.7, 10.0.0.5", "203.0.113.7", id="two-proxies"
    ),
    pytest.param(
        2, "10.0.0.9", "2001:db8::1, 10.0.0.5", "2001:db8::1", id="two-proxies-ipv6-client"
    ),
    pytest.param(1, "10.0.0.9", "", "10.0.0.9", id="one-proxy-header-missing"),
    pytest.param(2, "10.0.0.9", "203.0.113.7", "10.0.0.9", id="two-proxies-header-too-short"),
    pytest.param(1, "10.0.0.9", "not-an-ip", "10.0.0.9", id="malformed-word"),
    pytest.param(1, "10.0.0.9", "203.0.113.7, ", "10.0.0.9", id="malformed-empty-hop"),
    pytest.param(1, "10.0.0.9", "203.0.113.7:8080", "10.0.0.9", id="malformed-with-port"),
    pytest.param(1, "10.0.0.9", "999.1.1.1", "10.0.0.9", id="malformed-octet"),
    pytest.param(1, "10.0.0.9", "203.0.113.7\x00", "10.0.0.9", id="malformed-nul-byte"),
    pytest.param(1, "10.0.0.9", "a" * 5000, "10.0.0.9", id="malformed-huge"),
    pytest.param(0, "", "", None, id="no-address-at-all"),
    pytest.param(0, "garbage", "", None, id="malformed-remote-addr"),
]


@pytest.mark.parametrize(("proxies", "remote", "xff", "expected"), CASES)
def test_client_ip(settings, proxies, remote, xff, expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    meta = {"REMOTE_ADDR": remote}
    if xff:
        meta["HTTP_X_FORWARDED_FOR"] = xff
    request = RequestFactory().get("/", **meta)
    assert client_ip(request) == expected


def test_allauth_rate_limits_use_the_same_address(settings):
    """allauth keys its login/signup/reset limits on the adapter's address: behind a proxy, the client."""
    settings.TRUSTED_PROXY_COUNT = 1
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert get_adapter(request).get_client_ip(request) == "203.0.113.7"
    request = RequestFactory().get("/", REMOTE_ADDR="")
    with pytest.raises(PermissionDenied):
        get_adapter(request).get_client_ip(request)


@pytest.mark.django_db
def test_failed_login_is_audited_with_the_forwarded_client(settings, client):
    """A failed login behind one proxy is recorded with the client's address, not the proxy's."""
    from compliance.models import AuditEvent

    settings.TRUSTED_PROXY_COUNT = 1
    response = client.post(
        "/accounts/login/",
        {"login": "nobody@example.org", "password": "wrong-password-123"},
        REMOTE_ADDR="10.0.0.9",
        HTTP_X_FORWARDED_FOR="203.0.113.7",
    )
    assert response.status_code == 200
    event = AuditEvent.objects.filter(action="accounts.login.failed").latest("pk")
    assert event.ip == "203.0.113.7"


@pytest.mark.django_db
def test_login_rate_limit_counts_each_forwarded_client_apart(settings, client):
    """Behind a proxy, one client's failed logins do not lock out another (they shared REMOTE_ADDR)."""
    settings.TRUSTED_PROXY_COUNT = 1
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "login_failed": "2/m/ip"}

    def limited(xff: str) -> bool:
        response = client.post(
            "/accounts/login/",
            {"login": "nobody@example.org", "password": "wrong-password-123"},
            REMOTE_ADDR="10.0.0.9",
            HTTP_X_FORWARDED_FOR=xff,
        )
        return "Too many failed login attempts" in response.content.decode()

    results = [limited("203.0.113.7") for _ in range(4)]
    assert results[-1], results  # the noisy client is limited
    assert not limited("198.51.100.20")  # a different client behind the same proxy is not
