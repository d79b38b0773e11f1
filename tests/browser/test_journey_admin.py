"""The admin's journey: first login, two-factor enrolment from the secret on the page, Django admin.

Bad things it would catch: the favicon request rotating the pending secret ("Incorrect code" every
time), a password prompt right after enrolling, the admin refusing an enrolled admin, API keys shown
in full in the admin's token list.
"""

from __future__ import annotations

import re

import pytest

from accounts import services as account_services
from accounts.models import Role
from tests.accounts import factories
from tests.browser.conftest import requires_chromium

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), requires_chromium]


def test_admin_enrols_two_factor_and_opens_the_admin(journey):
    j, page = journey, journey.page
    admin = account_services.admin_ensure(
        email="admin@facesearch.example", password=factories.PASSWORD
    ).user
    org = factories.organisation("Acme Investigations")
    analyst = factories.member(org, role=Role.ANALYST, email="analyst@acme.example")
    key = account_services.api_token_rotate(user=analyst)

    j.goto("/")
    assert "/accounts/login/" in page.url
    j.step("login page")

    j.log_in(admin.email)
    # The MFA policy sends an admin without a second factor straight to the setup page.
    assert "/accounts/2fa/totp/activate/" in page.url, page.url
    secret = j.enrol_totp()
    j.step("two-factor enabled")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Admin").click()
    page.get_by_role("heading", name="Site administration").wait_for()
    assert page.get_by_role("link", name="Face search administration").is_visible()
    # Subject requests and the suppression list are there to read.
    index = page.locator("#content-main").inner_text()
    assert re.search("Subject requests", index, re.I), "subject requests are not in the admin"
    assert re.search("Suppression", index, re.I), "the suppression list is not in the admin"
    j.step("admin index")

    page.get_by_role("link", name="Users", exact=True).click()
    page.get_by_role("heading", name=re.compile("Select user", re.I)).wait_for()
    assert page.get_by_role("link", name=analyst.email).is_visible()
    j.step("users")

    # Faces cannot be bulk-deleted outside the erasure process (no receipt, no audit).
    page.get_by_role("link", name="Faces", exact=True).click()
    page.get_by_role("heading", name=re.compile("Select face", re.I)).wait_for()
    actions = page.locator("select[name=action] option").evaluate_all("os => os.map(o => o.value)")
    assert "delete_selected" not in actions, "faces can be bulk-deleted in the admin"
    j.step("faces")

    page.get_by_role("link", name="Tokens", exact=True).click()
    page.get_by_role("heading", name=re.compile("Select token", re.I)).wait_for()
    assert analyst.email in j.visible_text()
    assert key not in page.content(), "the admin's token list shows an API key in full"
    j.step("api tokens masked")

    # Next time: password, then the code from the authenticator app, and the admin opens.
    j.log_out()
    j.log_in(admin.email, totp_secret=secret)
    j.goto("/admin/")
    page.get_by_role("heading", name="Site administration").wait_for()
    j.step("admin after second login")
    j.finish()
