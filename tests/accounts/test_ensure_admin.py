"""The first admin: created once, with a generated password printed once, and able to log in."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from accounts.models import User
from compliance.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_first_admin_is_created_once_and_can_log_in(client, monkeypatch):
    monkeypatch.delenv("DJANGO_ADMIN_PASSWORD", raising=False)
    monkeypatch.setenv("DJANGO_ADMIN_EMAIL", "first-admin@example.com")
    out = StringIO()
    call_command("ensure_admin", stdout=out)
    match = re.search(r"Generated password .*: (\S+)", out.getvalue())
    assert match, out.getvalue()
    admin = User.objects.get(email="first-admin@example.com")
    assert admin.is_superuser and admin.is_staff
    assert AuditEvent.objects.filter(
        action="accounts.admin.created", target_id=str(admin.pk)
    ).exists()

    again = StringIO()
    call_command("ensure_admin", stdout=again)
    assert "Generated password" not in again.getvalue()
    assert User.objects.filter(is_superuser=True).count() == 1

    response = client.post(
        reverse("account_login"), {"login": admin.email, "password": match.group(1)}
    )
    assert response.status_code == 302
    # Logged in, and sent to set up two-factor authentication before anything else.
    assert client.get("/admin/")["Location"] == reverse("mfa_activate_totp")
