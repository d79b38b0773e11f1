"""A member of the public opens the transparency report from the rights page, sees the charts,
picks another month and downloads the CSV and the JSON.

Bad things it would catch: a report behind a login, a chart that does not render (zero size or
blocked by the content security policy), a download that does not download or holds figures other
than the page's, a month selector that leads to an error, a page wider than a phone.
"""

from __future__ import annotations

import csv
import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from audit.tlog import sequence_all
from compliance import transparency
from compliance.services import audit_record
from search.models import LawfulBasis, SearchRequest
from tests.accounts import factories
from tests.browser.conftest import requires_chromium

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), requires_chromium]


def test_public_reads_the_transparency_report_and_downloads_it(journey_factory, settings) -> None:
    settings.TRANSPARENCY_OPEN_MONTH = (
        True  # this month's figures, made below (closed months only: tests/compliance)
    )
    org = factories.organisation("Report Org")
    user = factories.member(org, email="analyst@report.example")
    now = timezone.now()
    previous = (timezone.localdate().replace(day=1) - timedelta(days=1)).replace(day=1)
    audit_record(actor=None, action="test.start", target="x", outcome="success")
    # One search last month: the month selector then offers it (its count shows as "< 5").
    SearchRequest.objects.create(
        organisation=org,
        user=user,
        purpose="p",
        case_reference="old",
        lawful_basis=LawfulBasis.PUBLIC_TASK,
        created_at=now.replace(day=1) - timedelta(days=2),
    )
    for i in range(7):
        SearchRequest.objects.create(
            organisation=org,
            user=user,
            purpose="p",
            case_reference=f"c{i}",
            lawful_basis=LawfulBasis.PUBLIC_TASK if i < 5 else LawfulBasis.LEGAL_OBLIGATION,
            created_at=now,
        )

    # The chain is checked hourly in production; checked now, the page and both downloads read the same kept
    # result (unchecked, the page's visit queues a check that could land between the page and the CSV).
    sequence_all()  # the sequencer's work, done here: the check covers signed leaves
    state = transparency.chain_check()
    assert state["ok"] and state["last_seq"], state

    j = journey_factory("transparency")
    page = j.page
    j.goto("/rights/")
    page.get_by_role("link", name="our transparency report").click()
    page.get_by_role("heading", name="Transparency report", exact=False).first.wait_for()
    assert page.url.endswith("/transparency/")
    charts = page.locator("svg.spark")
    assert charts.count() > 10, "a chart per series"
    box = charts.first.bounding_box()
    assert box and box["width"] > 50 and box["height"] > 20, (
        f"the first chart is not visible: {box}"
    )
    assert page.locator("svg.spark rect.value").count() > 0, (
        "bars drawn for the months with figures"
    )
    assert page.locator("td[data-key='searches.total']").inner_text() == "7"
    assert page.locator("td[data-key='searches.basis.legal_obligation']").inner_text() == "< 5"
    assert page.locator("td[data-key='searches.basis.public_task']").inner_text() == "withheld"
    assert page.get_by_text("A count from 1 to 4 is shown as").is_visible()
    assert page.locator("td[data-key='audit.verified_through']").inner_text().isdigit()
    j.step("report this month")
    j.assert_charts_readable()
    j.assert_fits()

    page_figures = dict(
        page.eval_on_selector_all(
            "td[data-key]", "tds => tds.map(td => [td.dataset.key, td.innerText.trim()])"
        )
    )
    with page.expect_download() as csv_download:
        page.locator("#download-csv").click()
    with open(csv_download.value.path(), newline="") as fh:
        csv_figures = {row["key"]: row["value"] for row in csv.DictReader(fh)}
    with page.expect_download() as json_download:
        page.locator("#download-json").click()
    json_figures = {
        f["key"]: f["value"]
        for f in json.loads(Path(json_download.value.path()).read_text())["figures"]
    }
    assert (
        {k: v.removesuffix(" days") for k, v in page_figures.items()} == csv_figures == json_figures
    )

    page.locator("#month").select_option(f"{previous:%Y-%m}")
    page.get_by_role("button", name="Show").click()
    page.wait_for_load_state("load")
    assert f"month={previous:%Y-%m}" in page.url
    assert page.locator("td[data-key='searches.total']").inner_text() == "< 5"
    assert page.locator("svg.spark rect.small").count() > 0, (
        "a suppressed month is drawn as a grey bar"
    )
    j.step("report previous month")
    j.finish()
