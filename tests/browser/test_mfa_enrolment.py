"""Two-factor enrolment in a real Chromium, the way a new DPO does it on first login.

Favicon and asset requests stay on: the browser fetches the icon from base.html and /favicon.ico
by itself. Before the fix those requests reopened the enrolment page in the background, which
made a new secret, so the QR code on screen was always stale and every code was "incorrect".
"""

from __future__ import annotations

import time

import pytest
from allauth.mfa.models import Authenticator

from tests.accounts import factories
from tests.browser.test_smoke import ARTIFACTS, browser_page  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"mfa-enrolment-{name}.png"), full_page=True)


def test_staff_enrols_totp_with_the_secret_on_screen_and_lands_where_they_wanted(
    live_server,
    browser_page,  # noqa: F811 (the imported fixture)
):
    """Bad input tried: background favicon/JSON/htmx requests and a page reload between
    reading the secret and submitting the code; a wrong code first."""
    dpo = factories.staff("dpo", email="new-dpo@facesearch.example")
    page = browser_page
    started = time.monotonic()

    # The DPO follows a link to the staff pages and is asked to log in.
    page.goto(f"{live_server.url}/staff/")
    assert "/accounts/login/" in page.url
    assert page.locator("link[rel=icon]").count() == 1
    # One "forgotten password" link on the login page, not two.
    assert page.get_by_role("link", name="password", exact=False).count() == 1
    _shot(page, "1-login")
    page.get_by_label("Email").fill(dpo.email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Log in").click()

    # Sent to enrol, with the secret on screen.
    page.wait_for_url("**/accounts/2fa/totp/activate/")
    secret = page.locator("#authenticator_secret").input_value()
    assert len(secret) >= 16
    _shot(page, "2-activate")

    # What browsers and htmx do behind the user's back: none of it may reset the secret.
    assert page.evaluate("fetch('/favicon.ico').then(r => r.status)") == 200
    assert (
        page.evaluate(
            "fetch('/staff/', {headers: {'Accept': 'application/json'}}).then(r => r.status)"
        )
        == 403
    )
    assert (
        page.evaluate("fetch('/staff/', {headers: {'HX-Request': 'true'}}).then(r => r.status)")
        == 403
    )
    page.reload()
    assert page.locator("#authenticator_secret").input_value() == secret, (
        "a reload changed the secret"
    )
    icon_type = page.evaluate(
        "fetch(document.querySelector('link[rel=icon]').href).then(r => r.ok && r.headers.get('content-type'))"
    )
    assert icon_type and icon_type.startswith("image/"), icon_type

    # A wrong code is refused and changes nothing.
    page.get_by_label("Authenticator code").fill("000000")
    page.get_by_role("button", name="Activate").click()
    assert page.get_by_text("Incorrect code").is_visible()
    assert page.locator("#authenticator_secret").input_value() == secret
    assert not Authenticator.objects.filter(user=dpo).exists()

    # The code computed from the secret shown on the page works, first time.
    page.get_by_label("Authenticator code").fill(factories.totp_code(secret))
    page.get_by_role("button", name="Activate").click()
    page.wait_for_url("**/accounts/2fa/recovery-codes/")
    # No password prompt right after enrolment: the recovery codes are shown.
    assert "reauthenticate" not in page.url
    assert page.locator("#recovery_codes").input_value().strip()
    _shot(page, "3-recovery-codes")
    assert Authenticator.objects.filter(user=dpo, type=Authenticator.Type.TOTP).exists()

    # On to the page they wanted in the first place.
    page.get_by_role("link", name="continue").click()
    page.wait_for_url(f"{live_server.url}/staff/")
    assert page.get_by_role("heading", level=1).is_visible()
    _shot(page, "4-landed")
    print(f"MFA enrolment journey: {time.monotonic() - started:.1f} s")
