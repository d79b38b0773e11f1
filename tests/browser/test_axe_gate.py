"""The accessibility gate can fail: pages with known violations are reported, clean ones are not."""

from __future__ import annotations

import time

import pytest

from tests.browser.axe import assert_accessible
from tests.browser.conftest import requires_chromium

pytestmark = [pytest.mark.django_db(transaction=True), requires_chromium]

PIXEL = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"

# Bad input: a portrait without alternative text and a text box without a label.
BAD = f"""<!doctype html><html lang="en"><head><title>Bad page</title></head><body><main>
<h1>Bad page</h1><img id="portrait" src="{PIXEL}">
<form><input id="name" type="text" name="name"><button type="submit">Send</button></form>
</main></body></html>"""

# The same page done right, with a link on to the bad one.
GOOD = (
    BAD.replace('src="', 'alt="A portrait" src="')
    .replace('<input id="name"', '<label for="name">Your name</label><input id="name"')
    .replace("</main>", '<p><a href="/axe-gate/bad/">On to the bad page</a></p></main>')
)


def serve(journey, path: str, html: str) -> str:
    """Answer ``path`` on the live server's address with ``html`` (a page the site does not have)."""
    url = journey.url(path)
    journey.page.route(url, lambda route: route.fulfill(body=html, content_type="text/html"))
    return url


def test_gate_reports_each_violation_on_a_page_the_journey_visits(journey_factory):
    """A journey opens a page with an image without alt and an unlabelled input, then moves on."""
    j = journey_factory("axe-gate")
    j.goto(serve(j, "/axe-gate/bad/", BAD))
    j.goto("/accounts/login/")

    found = {v.rule: v for v in j.axe.violations}
    assert set(found) == {"image-alt", "label"}, j.axe.report()
    assert found["image-alt"].impact == "critical" and found["image-alt"].targets == ("#portrait",)
    assert found["label"].impact == "critical" and found["label"].targets == ("#name",)
    assert all(v.url.endswith("/axe-gate/bad/") for v in found.values())

    with pytest.raises(AssertionError) as failure:
        assert_accessible({"axe-gate": j.axe})
    message = str(failure.value)
    for expected in ("Journey axe-gate", "image-alt (critical)", "label (critical)", "#portrait"):
        assert expected in message, message
    assert "/axe-gate/bad/" in message

    j.axe.violations.clear()  # shown failing; the login page checked at teardown must be clean
    j.finish()


def test_gate_passes_a_clean_page_and_checks_pages_reached_by_a_click(journey_factory):
    """The page with alt text and a label passes; a page reached by a click is checked on load."""
    j = journey_factory("axe-gate-clean")
    j.goto(serve(j, "/axe-gate/good/", GOOD))
    assert j.axe.check(j.page) == [], j.axe.report()
    serve(j, "/axe-gate/bad/", BAD)

    # No step and no goto: only the load hook sees the page the link opens.
    j.page.get_by_role("link", name="On to the bad page").click()
    j.page.wait_for_load_state("load")
    deadline = time.monotonic() + 30
    while not any(url.endswith("/axe-gate/bad/") for url in j.axe.checked):
        assert time.monotonic() < deadline, j.axe.report()
        j.page.wait_for_timeout(100)  # lets Playwright deliver the load event to the gate
    assert {v.rule for v in j.axe.violations} == {"image-alt", "label"}, j.axe.report()
    assert any(url.endswith("/axe-gate/good/") for url in j.axe.checked)
    j.goto("/axe-gate/good/")  # end on the clean page: teardown checks the last page
    j.axe.violations.clear()
    j.finish()
