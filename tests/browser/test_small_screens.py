"""Pages that scrolled sideways on a phone: each opened at 375 px by the persona who uses it, with the long
names, addresses and references that made them 436 to 758 px wide. Nothing may be wider than the screen:
tables scroll inside their own box or stack into cards, long URLs and emails wrap."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.accounts import factories
from tests.browser.test_smoke import ARTIFACTS, CHROMIUM
from tests.browser.test_staff_pages import _login, browser  # noqa: F401 - the fixture is used by name

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing"),
]

WIDTH = 375
LONG_HOST = "regional-newspaper-archive-with-a-very-long-domain-name.example.org"


def _seed(dpo, org_admin) -> int:
    """Long source names and scopes, long member emails, a long hold reason, an alert with long references.
    Returns the alert's id."""
    from accounts.models import Role
    from compliance import retention
    from crawling import services as crawling_services
    from search.models import MonitoringAlert, MonitoringAlertSearch, SearchRequest

    retention.retention_policies_ensure()
    source = crawling_services.source_add(
        name="Regional newspaper archive with a very long source name, 1998-2026",
        scope=[f"https://{LONG_HOST}/photographs/galleries/" + "very-long-section-name-" * 3],
        jurisdictions=["FR", "BE", "LU", "DE", "NL", "IT"],
        lawful_basis="legitimate_interests",
        art9_condition="manifestly_public",
        dpia_reference="DPIA-2026-0000000000000001",
    )
    crawling_services.source_approve(source=source, actor=dpo)
    org = org_admin.membership.organisation
    for i in range(3):
        factories.member(
            org,
            role=Role.ANALYST,
            email=f"a.very.long.analyst.name.number.{i}@investigations-department.example.com",
        )
    retention.legal_hold_create(
        scope="source",
        source_label=source.name,
        actor=dpo,
        reason="Litigation hold ordered by the court in case 2026/CV/000000000001 until the appeal is decided",
    )
    alert = MonitoringAlert.objects.create(window_days=30, organisations=2, max_case_references=3)
    for i in range(3):
        search = SearchRequest.objects.create(
            organisation=org,
            user=org_admin,
            purpose="Identify a suspect in a long-running fraud investigation " * 2,
            lawful_basis="legitimate_interests",
            case_reference=f"CASE-2026-00000000000000000{i}",
            status="done",
            created_at=timezone.now() - timedelta(days=i),
        )
        MonitoringAlertSearch.objects.create(alert=alert, search=search)
    return alert.pk


def test_governance_and_admin_pages_fit_a_375_px_screen(live_server, browser):  # noqa: F811
    """Each page at 375 px as its persona (DPO; organisation admin): document width at most 375 px."""
    from accounts.models import Role

    dpo = factories.staff("dpo", email="small-screen-dpo@facesearch.example")
    org = factories.organisation("Acme Investigations and Due Diligence International")
    org_admin = factories.member(
        org, role=Role.ORG_ADMIN, email="small-screen-org-admin@acme-investigations.example.com"
    )
    alert_id = _seed(dpo, org_admin)
    secrets = {dpo.pk: factories.with_totp(dpo), org_admin.pk: factories.with_totp(org_admin)}
    pages = {
        dpo: [
            "/sources/",
            "/staff/retention/",
            "/staff/legal-holds/",
            f"/search/monitoring/{alert_id}/",
        ],
        org_admin: ["/org/members/"],
    }
    ARTIFACTS.mkdir(exist_ok=True)
    problems: list[str] = []
    for user, paths in pages.items():
        context = browser.new_context()
        _login(context.new_page(), live_server.url, user, secrets[user.pk])
        state = context.storage_state()
        context.close()
        context = browser.new_context(viewport={"width": WIDTH, "height": 740}, storage_state=state)
        page = context.new_page()
        for path in paths:
            response = page.goto(f"{live_server.url}{path}")
            assert response is not None and response.status == 200, (
                path,
                response and response.status,
            )
            slug = path.strip("/").replace("/", "-")
            page.screenshot(
                path=str(ARTIFACTS / f"small-screen-{slug}-{WIDTH}.png"), full_page=True
            )
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > WIDTH:
                wide = page.evaluate(
                    # What sticks out, leaving aside what is inside a box that scrolls on its own.
                    """(w) => [...document.querySelectorAll('body *')]
                        .filter(el => el.getBoundingClientRect().right > w + 1)
                        .filter(el => { for (let p = el.parentElement; p; p = p.parentElement) {
                            if (['auto', 'scroll'].includes(getComputedStyle(p).overflowX)) return false; } return true; })
                        .slice(0, 6)
                        .map(el => `${el.tagName}.${el.className} ${Math.round(el.getBoundingClientRect().right)}`)""",
                    WIDTH,
                )
                problems.append(f"{path} is {width}px wide at {WIDTH}px: {wide}")
        context.close()
    assert not problems, "\n".join(problems)
