"""Login, MFA enrolment and the MFA policy for staff and org admins."""

from __future__ import annotations

import pytest
from allauth.mfa.models import Authenticator
from django.urls import reverse

from accounts.models import Role
from tests.accounts import factories

pytestmark = pytest.mark.django_db


def login(client, email: str, password: str = factories.PASSWORD):
    return client.post(reverse("account_login"), {"login": email, "password": password})


def test_analyst_logs_in_with_password_and_reaches_home(client, teammate):
    response = login(client, teammate.email)
    assert response.status_code == 302
    home = client.get(reverse("home"))
    assert home.status_code == 200
    assert b"Acme Investigations" in home.content


def test_wrong_password_is_refused(client, teammate):
    response = login(client, teammate.email, "not the password")
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_org_admin_without_mfa_is_sent_to_enrol_and_enrols(client, org):
    admin = factories.member(org, role=Role.ORG_ADMIN, email="new-admin@acme.example")
    assert login(client, admin.email).status_code == 302

    # Anything else redirects to TOTP activation until a second factor exists.
    for url in (reverse("home"), reverse("accounts:members"), reverse("search:index")):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"] == reverse("mfa_activate_totp")

    page = client.get(reverse("mfa_activate_totp"))
    assert page.status_code == 200
    secret = client.session["mfa.totp.secret"]

    bad = client.post(reverse("mfa_activate_totp"), {"code": "000000"})
    assert bad.status_code == 200
    assert not Authenticator.objects.filter(user=admin).exists()

    good = client.post(reverse("mfa_activate_totp"), {"code": factories.totp_code(secret)})
    assert good.status_code == 302
    assert Authenticator.objects.filter(user=admin, type=Authenticator.Type.TOTP).exists()
    assert client.get(reverse("accounts:members")).status_code == 200


def test_login_with_totp_needs_the_code(client, owner):
    response = login(client, owner.email)
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_authenticate")
    # Password alone does not log in.
    assert client.get(reverse("home")).status_code == 302

    wrong = client.post(reverse("mfa_authenticate"), {"code": "123456"})
    assert wrong.status_code == 200
    assert "_auth_user_id" not in client.session

    right = client.post(
        reverse("mfa_authenticate"), {"code": factories.totp_code(owner.totp_secret)}
    )
    assert right.status_code == 302
    assert client.get(reverse("home")).status_code == 200


def test_recovery_codes_are_generated_with_totp(client, org):
    admin = factories.member(org, role=Role.ORG_ADMIN, email="rc-admin@acme.example")
    login(client, admin.email)
    client.get(reverse("mfa_activate_totp"))
    client.post(
        reverse("mfa_activate_totp"),
        {"code": factories.totp_code(client.session["mfa.totp.secret"])},
    )
    assert Authenticator.objects.filter(user=admin, type=Authenticator.Type.RECOVERY_CODES).exists()


def test_failed_logins_are_rate_limited(client, teammate):
    for _ in range(5):
        login(client, teammate.email, "wrong password")
    # The sixth attempt is refused even with the right password.
    response = login(client, teammate.email)
    assert "_auth_user_id" not in client.session
    assert response.status_code in (200, 429)
    assert b"Too many failed login attempts" in response.content or response.status_code == 429


@pytest.mark.parametrize("persona", ["dpo", "auditor"])
def test_staff_without_mfa_cannot_reach_staff_pages(client, persona):
    user = factories.staff(persona)
    client.force_login(user)
    for url in (reverse("compliance:staff_home"), reverse("compliance:audit_log")):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"] == reverse("mfa_activate_totp")


def test_staff_with_mfa_reach_their_pages(client, dpo, auditor):
    client.force_login(auditor)
    assert client.get(reverse("compliance:staff_home")).status_code == 200
    assert client.get(reverse("compliance:audit_log")).status_code == 200
    client.force_login(dpo)
    assert client.get(reverse("compliance:staff_home")).status_code == 200
    assert client.get(reverse("crawling:index")).status_code == 200


def test_auditor_cannot_reach_dpo_pages(client, auditor):
    client.force_login(auditor)
    assert client.get(reverse("crawling:index")).status_code == 403


def test_analyst_cannot_reach_staff_pages(client, teammate):
    client.force_login(teammate)
    assert client.get(reverse("compliance:staff_home")).status_code == 403


def test_admin_site_requires_mfa(client, db):
    admin = factories.user(email="root@facesearch.example", is_staff=True, is_superuser=True)
    client.force_login(admin)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp")
    factories.with_totp(admin)
    assert client.get("/admin/").status_code == 200


def test_admin_login_goes_through_allauth(client, db):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_api_request_without_mfa_gets_403_json(client, org):
    admin = factories.member(org, role=Role.ORG_ADMIN)
    client.force_login(admin)
    response = client.get("/api/schema/")
    assert response.status_code == 403
    # The API's documented error shape, not DRF's {"detail": ...}.
    assert response.json()["error"]["code"] == "mfa_required"
    assert "Two-factor" in response.json()["error"]["message"]


def test_security_events_are_audited_without_the_login_in_clear(client, org, teammate):
    from compliance.models import AuditEvent

    login(client, "nobody@example.com", "wrong password")
    failed = AuditEvent.objects.get(action="accounts.login.failed")
    assert failed.outcome == "failure"
    assert "nobody@example.com" not in str(failed.details)
    assert failed.details["login_pseudonym"].startswith("subj_")

    login(client, teammate.email)
    assert AuditEvent.objects.filter(
        action="accounts.login.succeeded", actor_id=teammate.pk
    ).exists()

    admin = factories.member(org, role=Role.ORG_ADMIN, email="audit-admin@acme.example")
    client.logout()
    assert AuditEvent.objects.filter(
        action="accounts.logout.succeeded", actor_id=teammate.pk
    ).exists()
    login(client, admin.email)
    client.get(reverse("mfa_activate_totp"))
    client.post(
        reverse("mfa_activate_totp"),
        {"code": factories.totp_code(client.session["mfa.totp.secret"])},
    )
    added = AuditEvent.objects.filter(action="accounts.mfa.added", actor_id=admin.pk)
    assert added.exists()
    Authenticator.objects.filter(user=admin, type=Authenticator.Type.TOTP).delete()
    assert AuditEvent.objects.filter(
        action="accounts.mfa.removed", actor_id=admin.pk, details__type="totp"
    ).exists()
    # The TOTP secret never reaches the log.
    secret_free = all("secret" not in str(e.details).lower() for e in AuditEvent.objects.all())
    assert secret_free


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/favicon.ico", {}),
        ("/static/css/app.css", {}),
        ("/", {"HTTP_ACCEPT": "application/json"}),
        ("/", {"HTTP_HX_REQUEST": "true", "HTTP_ACCEPT": "text/html"}),
        ("/", {"HTTP_X_REQUESTED_WITH": "XMLHttpRequest"}),
    ],
    ids=["favicon", "static", "json-accept", "htmx", "xhr"],
)
def test_background_requests_never_open_the_enrolment_page(client, org, path, headers):
    """Bad input: the requests a browser makes on its own while the enrolment page is open."""
    admin = factories.member(org, role=Role.ORG_ADMIN, email="bg-admin@acme.example")
    login(client, admin.email)
    client.get(reverse("mfa_activate_totp"))
    secret = client.session["mfa.totp.secret"]
    response = client.get(path, **headers)
    assert response.get("Location") != reverse("mfa_activate_totp")
    if path == "/":
        assert response.status_code == 403
    # The pending secret is the one on screen, still.
    again = client.get(reverse("mfa_activate_totp"))
    assert again.status_code == 200
    assert client.session["mfa.totp.secret"] == secret
    assert secret in again.content.decode()


def test_favicon_is_served(client):
    from django.contrib.staticfiles import finders
    from django.templatetags.static import static

    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"] == static("favicon.ico")
    icon = finders.find("favicon.ico")
    assert icon is not None
    with open(icon, "rb") as f:
        assert f.read(4) == b"\x00\x00\x01\x00", "not an ICO file"


@pytest.mark.parametrize("url_name", ["account_login", "account_reset_password", "account_signup"])
def test_account_pages_use_the_product_layout(client, url_name):
    page = client.get(reverse(url_name))
    assert page.status_code == 200
    html = page.content.decode()
    assert "css/app.css" in html and 'class="brand"' in html


def test_login_page_has_one_forgotten_password_link(client):
    html = client.get(reverse("account_login")).content.decode()
    assert html.count(reverse("account_reset_password")) == 1
