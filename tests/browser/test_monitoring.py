"""The monitoring guard in the browser: an analyst's repeat search of one person (another photo) is held
until they confirm with the case reference; the third case raises an alert that the DPO sees on the
staff home, reads on the evidence page (no face) and closes with a note.

The face model runs for real on real photos; searches run in the web process (Celery's eager mode)
rather than in a worker, because the test turns on the hold that the test settings leave off and a
session worker started by another test would not see that.
"""

from __future__ import annotations

import re

import pytest

from accounts.models import Role
from compliance.models import AuditEvent
from search.models import MonitoringAlert, SearchRequest
from tests.accounts import factories
from tests.browser.conftest import requires_chromium
from tests.search import photos
from tests.search.conftest import index_photos

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), requires_chromium]


@pytest.fixture
def searches_in_process(settings):
    from config.celery import app

    settings.MONITORING_HOLD_REPEATS = True
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = eager


def _search(j, photo: str, case: str) -> None:
    page = j.page
    j.goto("/search/")
    page.get_by_label("Photo").set_input_files(str(photos.IMAGES / photo))
    page.get_by_label("Purpose").fill("Identify a fraud suspect")
    page.get_by_label("Lawful basis").select_option("legitimate_interests")
    page.get_by_label(re.compile("^Case reference")).fill(case)
    page.get_by_role("button", name="Search", exact=True).click()
    page.wait_for_load_state("load")


def _confirm(j, case: str) -> None:
    page = j.page
    page.get_by_label("Case reference for this search").fill(case)
    page.get_by_label(re.compile("^I confirm this search")).check()
    page.get_by_role("button", name="Confirm and show the results").click()
    page.get_by_role("heading", name=re.compile(r"^\d+ match")).wait_for(timeout=60_000)


def test_repeat_search_is_held_until_confirmed_and_the_dpo_closes_the_alert(
    journey_factory, searches_in_process
):
    indexed = index_photos("img1.jpg")  # person01
    org = factories.organisation("Acme Investigations")
    analyst = factories.member(org, role=Role.ANALYST, email="analyst@acme.example")
    dpo = factories.staff("dpo", email="dpo@facesearch.example")
    dpo_secret = factories.with_totp(dpo)

    j = journey_factory("monitoring")
    page = j.page
    j.log_in(analyst.email)
    _search(j, "img2.jpg", "CASE-1")
    page.get_by_role("heading", name="1 match").wait_for(timeout=60_000)
    j.step("first search: results shown")

    _search(j, "img4.jpg", "CASE-2-draft")  # another photo of the same person
    page.get_by_role("heading", name="Repeat search: confirm to see the results").wait_for(
        timeout=60_000
    )
    assert page.locator("#search-status img").count() == 0, "a held search shows a face"
    assert "searched for this person 1 time in the last 30 days" in j.visible_text()
    j.step("repeat search held")

    j.expect_status("/confirm-repeat/", 400)
    page.get_by_label("Case reference for this search").fill("CASE-2")
    page.get_by_role("button", name="Confirm and show the results").click()  # the box is not ticked
    page.wait_for_load_state("load")
    assert "Tick the box to confirm this repeat search." in j.visible_text()
    j.step("confirmation refused without the tick", check_links=False)
    _confirm(j, "CASE-2")
    j.wait_for_images()
    assert page.locator("#search-status img").count() == 1
    assert page.get_by_role("heading", name="Search for case CASE-2").is_visible()
    j.step("confirmed: results shown")

    _search(j, "img5.jpg", "CASE-3")
    page.get_by_role("heading", name="Repeat search: confirm to see the results").wait_for(
        timeout=60_000
    )
    _confirm(j, "CASE-3")
    j.step("third case confirmed")
    j.finish()

    held = SearchRequest.objects.filter(case_reference__in=["CASE-2", "CASE-3"])
    assert held.count() == 2
    for search in held:
        actions = set(
            AuditEvent.objects.filter(target_id=str(search.pk)).values_list("action", flat=True)
        )
        assert {"search.search.held_as_repeat", "search.search.repeat_confirmed"} <= actions
    alert = MonitoringAlert.objects.get()
    assert alert.max_case_references == 3
    assert indexed["img1.jpg"].faces.count() == 1

    d = journey_factory("monitoring-dpo")
    d.log_in(dpo.email, totp_secret=dpo_secret)
    d.goto("/staff/")
    panel = d.page.get_by_role("region", name="Monitoring alerts")
    assert "1 open alert" in panel.inner_text()
    d.step("staff home shows the open alert")
    panel.get_by_role("link", name=f"Alert #{alert.pk}").click()
    d.page.get_by_role("heading", name=f"Monitoring alert #{alert.pk}").wait_for()
    text = d.visible_text()
    for case in ("CASE-1", "CASE-2", "CASE-3"):
        assert case in text
    assert "Acme Investigations" in text and analyst.email in text
    assert d.page.locator("main img").count() == 0, "the evidence page shows a face"
    d.step("evidence page: organisations, cases, dates, analysts")
    d.expect_status("/close/", 400)
    d.page.get_by_role("button", name="Close the alert").click()  # no note
    d.page.wait_for_load_state("load")
    assert "This field is required." in d.visible_text()
    d.page.get_by_label("Closing note").fill(
        "Three linked fraud cases at one customer; confirmed with its DPO."
    )
    d.page.get_by_role("button", name="Close the alert").click()
    d.page.get_by_role("heading", name="Closed", exact=True).wait_for()
    d.step("alert closed with a note")
    d.finish()
    alert.refresh_from_db()
    assert alert.status == MonitoringAlert.Status.CLOSED and alert.closed_by_id == dpo.pk
    assert AuditEvent.objects.filter(
        action="search.monitoring_alert.closed", actor_id=dpo.pk
    ).exists()
