"""Staff pages in a real Chromium at desktop (1280 px) and phone (375 px) widths: nothing wider
than the screen, charts drawn inside their box, each home page useful."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from compliance.services import audit_record
from tests.accounts import factories
from tests.browser import django_connections_checked
from tests.browser.test_smoke import ARTIFACTS, CHROMIUM

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing"),
]

WIDTHS = {"desktop": (1280, 900), "phone": (375, 740)}


def _seed() -> None:
    """Data that made the pages overflow: long action codes and labels, many requests, one week of searches."""
    from subjects.models import SubjectRequest

    today = timezone.localdate()
    for i, (kind, status, due) in enumerate(
        [
            ("erasure", "in_review", -3),
            ("access", "awaiting_verification", 2),
            ("objection", "in_review", 5),
        ]
    ):
        SubjectRequest.objects.create(
            reference=f"R-{i}",
            type=kind,
            status=status,
            due_date=today + timedelta(days=due),
            email=f"person{i}@example.net",
            status_token_hash="-",
            original_due_date=today,
        )
    for i in range(30):
        audit_record(
            actor=None,
            action="compliance.retention.sweep_subject_request_records_and_their_access_packages",
            target=f"subjects.subjectrequest.with.a.long.target.identifier.{i:04d}",
            outcome="success",
            ip="2001:0db8:85a3:0000:0000:8a2e:0370:7334",
        )


def _login(page, base: str, user, secret: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/accounts/2fa/authenticate/")
    page.get_by_label("Code").fill(factories.totp_code(secret))
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"{base}/")


@pytest.fixture
def browser():
    import os

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        django_connections_checked()
        b = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-dev-shm-usage",
            ],
        )
        yield b
        b.close()


def test_staff_pages_fit_the_screen_at_1280_and_375_px(live_server, browser):
    """Bad input: very long audit action codes, IPv6 addresses, long chart labels, a phone-width screen."""
    _seed()
    dpo = factories.staff("dpo", email="layout-dpo@facesearch.example")
    auditor = factories.staff("auditor", email="layout-auditor@facesearch.example")
    secrets = {dpo.pk: factories.with_totp(dpo), auditor.pk: factories.with_totp(auditor)}
    ARTIFACTS.mkdir(exist_ok=True)
    pages = {
        dpo: ["/", "/staff/", "/staff/dashboard/", "/rights/dpo/"],
        auditor: ["/", "/staff/audit/", "/staff/dashboard/"],
    }
    problems: list[str] = []
    # Log in once per person (a TOTP code works once); the other width reuses the session.
    sessions = {}
    for user in pages:
        context = browser.new_context()
        _login(context.new_page(), live_server.url, user, secrets[user.pk])
        sessions[user.pk] = context.storage_state()
        context.close()
    for width, height in WIDTHS.values():
        for user, paths in pages.items():
            context = browser.new_context(
                viewport={"width": width, "height": height}, storage_state=sessions[user.pk]
            )
            page = context.new_page()
            for path in paths:
                response = page.goto(f"{live_server.url}{path}")
                assert response is not None and response.status == 200, (
                    path,
                    response and response.status,
                )
                if path == "/":
                    # Each home page shows something useful, not just a link onwards.
                    assert page.get_by_text("Go to the staff pages").count() == 0
                    if user == dpo:
                        assert page.get_by_role("link", name="R-0").is_visible()
                    else:
                        assert page.get_by_text("Chain verified just now").count() == 1
                scroll_width = page.evaluate("document.documentElement.scrollWidth")
                if scroll_width > width:
                    problems.append(f"{path} at {width}px is {scroll_width}px wide")
                # Every chart's drawing (bars, labels, values) stays inside its own box.
                for box in page.evaluate(
                    """() => [...document.querySelectorAll('svg.chart')].map(svg => {
                        const r = svg.getBoundingClientRect();
                        const out = [...svg.querySelectorAll('rect, text')].filter(el => {
                            const b = el.getBoundingClientRect();
                            const outside = b.left < r.left - 1 || b.right > r.right + 1;
                            return b.width && (outside || b.top < r.top - 1 || b.bottom > r.bottom + 1);
                        }).map(el => el.textContent || el.tagName);
                        return out;
                    })"""
                ):
                    if box:
                        problems.append(
                            f"{path} at {width}px: chart parts outside the chart: {box[:3]}"
                        )
                slug = path.strip("/").replace("/", "-") or "home"
                page.screenshot(
                    path=str(ARTIFACTS / f"staff-{user.email.split('@')[0]}-{slug}-{width}.png"),
                    full_page=True,
                )
            context.close()
    assert not problems, "\n".join(problems)


def test_search_results_fit_a_phone_screen(live_server, browser):
    """Bad input: a result whose source page URL and source label are very long, on a 375 px screen."""
    from accounts.models import Role
    from search.models import Face, SearchHit, SearchRequest, SourceImage

    org = factories.organisation("Acme Investigations")
    analyst = factories.member(org, role=Role.ANALYST, email="layout-analyst@acme.example")
    search = SearchRequest.objects.create(
        organisation=org,
        user=analyst,
        purpose="Identify a fraud suspect",
        lawful_basis="legitimate_interests",
        case_reference="CASE-2026-000000000000000001",
        status="done",
        completed_at=timezone.now(),
    )
    for rank in range(1, 4):
        image = SourceImage.objects.create(
            file=f"sources/2026/11/{rank}.jpg",
            sha256=f"{rank:064d}",
            width=640,
            height=480,
            format="JPEG",
            byte_size=1000,
            source_label="regional-newspaper-archive-with-a-very-long-source-name-2026",
            page_url="https://news.example/" + "a-very-long-article-slug-" * 8 + f"{rank}.html",
            image_url=f"https://news.example/images/{'x' * 120}{rank}.jpg",
            status="done",
        )
        face = Face.objects.create(
            image=image,
            box_x=1,
            box_y=1,
            box_w=100,
            box_h=100,
            detection_score=0.99,
            crop=f"crops/{rank}.jpg",
            embedding=[0.1, 0.2, 0.3],
            model="test",
            detector="test",
        )
        SearchHit.objects.create(
            search=search, face=face, distance=0.1 * rank, confidence=0.9, rank=rank
        )

    context = browser.new_context(viewport={"width": 375, "height": 740})
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(analyst.email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/search/{search.pk}/")
    page.get_by_role("heading", name="3 matches").wait_for()
    page.screenshot(path=str(ARTIFACTS / "search-results-375.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    context.close()
