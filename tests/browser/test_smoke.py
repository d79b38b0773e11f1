"""Browser smoke test: Playwright (PyPI) drives Debian's chromium against a live server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from accounts.models import Role
from tests.accounts import factories
from tests.browser import django_connections_checked

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing (apt-get install chromium)"
    ),
]


@pytest.fixture
def browser_page():
    # Playwright's sync API runs an event loop in this thread; Django's ORM calls from the
    # test body are still synchronous and safe here.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        django_connections_checked()
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-dev-shm-usage",
            ],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        yield page
        browser.close()


def test_login_and_landing_page_screenshot(live_server, browser_page):
    org = factories.organisation("Acme Investigations")
    analyst = factories.member(org, role=Role.ANALYST, email="browser-analyst@acme.example")
    page = browser_page
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

    page.goto(f"{live_server.url}/")
    assert "/accounts/login/" in page.url
    page.get_by_label("Email").fill(analyst.email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")
    assert page.get_by_role("heading", level=1).inner_text().startswith("Welcome")
    assert page.get_by_text("Acme Investigations").is_visible()
    # htmx is served locally and loaded without CSP violations.
    assert page.evaluate("typeof window.htmx") == "object"
    assert not [e for e in errors if "Content Security Policy" in e], errors

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "landing.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 5000


@pytest.mark.worker
def test_search_with_live_progress_and_results(live_server, browser_page, celery_worker_process):
    """An analyst uploads a photo; htmx shows progress and swaps in the results from the worker."""
    from tests.search import photos
    from tests.search.conftest import index_photos

    index_photos("img1.jpg", "img3.jpg")
    org = factories.organisation("Acme Investigations")
    analyst = factories.member(org, role=Role.ANALYST, email="browser-search@acme.example")
    page = browser_page
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(analyst.email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")

    page.goto(f"{live_server.url}/search/")
    page.get_by_label("Photo").set_input_files(str(photos.IMAGES / "img2.jpg"))
    page.get_by_label("Purpose").fill("Identify a fraud suspect")
    page.get_by_label("Lawful basis").select_option("legitimate_interests")
    page.get_by_label("Case reference").fill("CASE-7")
    page.get_by_role("button", name="Search", exact=True).click()
    page.get_by_role("heading", name="1 match").wait_for(timeout=60_000)
    assert page.locator("img[alt='Matching face 1']").evaluate("img => img.naturalWidth") > 0
    page.screenshot(path=str(ARTIFACTS / "search-results.png"), full_page=True)
