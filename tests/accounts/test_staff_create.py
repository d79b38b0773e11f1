"""Creating staff (command and Django admin) and what admin may show and delete."""

from __future__ import annotations

from io import StringIO
from urllib.parse import urlsplit

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.urls import reverse

from accounts.models import User
from compliance.models import AuditEvent
from tests.accounts import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    admin = factories.user(email="root@facesearch.example", is_staff=True, is_superuser=True)
    factories.with_totp(admin)
    client.force_login(admin)
    return client


def test_staff_create_makes_a_verified_dpo_whose_link_sets_a_password_and_logs_in(client, settings):
    settings.SITE_URL = "http://127.0.0.1:8123"
    out = StringIO()
    call_command("staff_create", "New.DPO@facesearch.example", "--group", "dpo", stdout=out)
    user = User.objects.get(email="new.dpo@facesearch.example")
    assert list(user.groups.values_list("name", flat=True)) == ["dpo"]
    assert not user.has_usable_password()
    assert EmailAddress.objects.get(user=user).verified
    assert AuditEvent.objects.filter(
        action="accounts.staff.created", target_id=str(user.pk)
    ).exists()

    link = out.getvalue().strip().splitlines()[-1]
    assert link.startswith("http://127.0.0.1:8123/accounts/password/reset/key/"), link
    path = urlsplit(link).path
    page = client.get(path, follow=True)
    assert page.status_code == 200
    form_url = page.redirect_chain[-1][0] if page.redirect_chain else path
    new_password = "a long new password for the dpo 17"
    done = client.post(form_url, {"password1": new_password, "password2": new_password})
    assert done.status_code == 302, done.content.decode()[:2000]

    # The address needs no confirmation: the password logs in (and MFA enrolment comes next).
    client.logout()
    login = client.post(reverse("account_login"), {"login": user.email, "password": new_password})
    assert login.status_code == 302
    assert client.get(reverse("home"))["Location"] == reverse("mfa_activate_totp")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["not-an-email", "--group", "dpo"], "valid email"),
        (["dup@facesearch.example", "--group", "auditor"], "already exists"),
    ],
    ids=["bad-address", "existing-user"],
)
def test_staff_create_refuses_bad_input_and_creates_nothing(args, message):
    factories.user(email="dup@facesearch.example")
    before = User.objects.count()
    with pytest.raises(CommandError, match=message):
        call_command("staff_create", *args, stdout=StringIO())
    assert User.objects.count() == before


def test_staff_create_refuses_an_unknown_group():
    """Bad input: --group admin (only dpo and auditor exist)."""
    with pytest.raises(CommandError):
        call_command(
            "staff_create",
            "x@facesearch.example",
            "--group",
            "admin",
            stdout=StringIO(),
            stderr=StringIO(),
        )
    assert not User.objects.filter(email="x@facesearch.example").exists()


def test_staff_added_in_admin_have_a_verified_address(admin_client):
    response = admin_client.post(
        "/admin/accounts/user/add/",
        {
            "email": "auditor2@facesearch.example",
            "password1": "x7 long password here!",
            "password2": "x7 long password here!",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    user = User.objects.get(email="auditor2@facesearch.example")
    # Not staff yet: nothing to verify.
    assert not EmailAddress.objects.filter(user=user, verified=True).exists()

    change = admin_client.get(f"/admin/accounts/user/{user.pk}/change/")
    assert change.status_code == 200
    data = {
        "email": user.email,
        "name": "",
        "is_active": "on",
        "groups": [str(Group.objects.get(name="auditor").pk)],
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "10:00:00",
    }
    saved = admin_client.post(f"/admin/accounts/user/{user.pk}/change/", data)
    assert saved.status_code == 302, saved.content.decode()[:3000]
    assert EmailAddress.objects.get(user=user, email=user.email).verified
    assert AuditEvent.objects.filter(
        action="accounts.staff.email_verified", target_id=str(user.pk)
    ).exists()


def test_admin_token_list_shows_no_key(admin_client, teammate):
    """API keys are stored as hashes only (accounts.ApiToken): admin lists the tokens with no key, not even masked."""
    from accounts.services import api_token_rotate

    key = api_token_rotate(user=teammate)
    page = admin_client.get("/admin/accounts/apitoken/")
    assert page.status_code == 200
    html = page.content.decode()
    assert teammate.email in html
    assert key not in html, "the full API key is shown in admin"
    assert key[:8] not in html
    assert (
        admin_client.get("/admin/authtoken/tokenproxy/").status_code == 404
    )  # DRF's list of the old table is gone


@pytest.mark.parametrize(
    "url",
    [
        "/admin/search/sourceimage/",
        "/admin/search/face/",
        "/admin/search/searchhit/",
        "/admin/search/searchrequest/",
        "/admin/subjects/subjectrequest/",
        "/admin/search/suppression/",
        "/admin/compliance/legalhold/",
        "/admin/crawling/source/",
    ],
)
def test_personal_data_cannot_be_deleted_in_admin(admin_client, url):
    """Bad input: the bulk delete_selected action posted directly."""
    page = admin_client.get(url)
    assert page.status_code == 200
    assert b"delete_selected" not in page.content
    posted = admin_client.post(
        url, {"action": "delete_selected", "_selected_action": ["1"], "post": "yes"}
    )
    # No action exists: admin answers with the list again (or a redirect), never a deletion page.
    assert posted.status_code in (200, 302)
    assert b"Are you sure" not in posted.content


def test_personal_data_lists_say_where_deletion_goes(admin_client):
    page = admin_client.get("/admin/search/face/")
    assert b"erasure request" in page.content
    assert reverse("subjects:queue").encode() in page.content


def test_subject_requests_and_suppressions_are_registered_read_only(admin_client):
    # The suppression list belongs to search now (beside ingestion, which reads it).
    for path in ("subjects/subjectrequest", "search/suppression"):
        assert admin_client.get(f"/admin/{path}/").status_code == 200
        assert admin_client.get(f"/admin/{path}/add/").status_code == 403
