"""The org admin's journey: invited by `organisation_create`, follows the emailed link, signs up,
enrols two-factor, invites an analyst, who follows their own emailed link and signs up.

Bad things it would catch: invitation links pointing at another port, a dead or stale invitation
link, signup refusing the invited address, two-factor enrolment that never succeeds, a member list
that does not show the new analyst.
"""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command

from accounts.models import Membership, Role
from tests.accounts import factories
from tests.browser.conftest import requires_chromium

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), requires_chromium]

OWNER = "owner@northwind.example"
ANALYST = "analyst@northwind.example"


def _sign_up(j, email: str) -> None:
    page = j.page
    page.get_by_role("heading", name=re.compile("Sign Up", re.I)).wait_for()
    assert page.get_by_label("Email").input_value() == email, (
        "the signup form is not filled with the invited address"
    )
    j.step(f"signup form for {email.split('@')[0]}")
    page.get_by_label(re.compile(r"^Password(?! \(again\))")).fill(factories.PASSWORD)
    page.get_by_label(re.compile(r"^Password \(again\)")).fill(factories.PASSWORD)
    page.get_by_role("button", name=re.compile("Sign Up", re.I)).click()
    page.wait_for_load_state("load")


def test_org_admin_is_invited_enrols_and_invites_an_analyst(journey_factory, capsys):
    call_command("organisation_create", name="Northwind Research", admin_email=OWNER)
    assert "invitation sent" in capsys.readouterr().out

    owner = journey_factory("org-admin")
    page = owner.page
    owner.goto(owner.email_link(OWNER, "/org/invitations/accept/"))
    _sign_up(owner, OWNER)
    # An org admin must enrol a second factor before anything else.
    assert "/accounts/2fa/totp/activate/" in page.url, page.url
    owner.enrol_totp()
    owner.step("two-factor enabled")

    owner.goto("/")
    assert page.get_by_text("Northwind Research").first.is_visible()
    owner.step("home")

    page.get_by_role("link", name="Members and invitations").click()
    page.get_by_role("heading", name="Members of Northwind Research").wait_for()
    page.get_by_label("Email address").fill(ANALYST)
    page.get_by_label("Role").select_option(Role.ANALYST)
    page.get_by_role("button", name="Send invitation").click()
    page.get_by_text(f"Invitation sent to {ANALYST}").wait_for()
    assert ANALYST in page.get_by_role("table").nth(1).inner_text()  # pending invitations
    owner.step("analyst invited")

    analyst = journey_factory("org-admin-analyst")
    analyst.goto(analyst.email_link(ANALYST, "/org/invitations/accept/"))
    _sign_up(analyst, ANALYST)
    # An analyst needs no second factor: the home page of the organisation opens.
    analyst.page.get_by_role("heading", name=re.compile("^Welcome")).wait_for()
    assert "Northwind Research" in analyst.visible_text()
    assert "as analyst" in analyst.visible_text()
    analyst.step("analyst signed up")

    page.reload()
    members = page.get_by_role("table").first.inner_text()
    assert ANALYST in members and OWNER in members
    assert Membership.objects.get(user__email=ANALYST).role == Role.ANALYST
    owner.step("members list with the analyst")
    owner.assert_emails_fit(OWNER)
    owner.assert_emails_fit(ANALYST)
    analyst.finish()
    owner.finish()
