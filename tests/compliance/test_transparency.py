"""The public transparency report: suppression at the threshold, page == CSV == JSON, nothing personal.

Rows are created with the ORM (the report reads them; how they are made is tested elsewhere) in
the real PostgreSQL; the report is read through real HTTP requests to the Django views.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
from datetime import timedelta

import pytest
from bs4 import BeautifulSoup
from django.utils import timezone

from accounts.models import Organisation
from compliance import transparency as t
from compliance.services import audit_anchor_write, audit_record
from compliance.tasks import transparency_chain_check
from crawling.models import CrawlItem, CrawlJob, Source
from search.models import LawfulBasis, SearchRequest
from subjects.models import ErasureReceipt, RequestType, SubjectRequest, Suppression
from tests.accounts import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _open_month(settings) -> None:
    """Most tests read this month's figures; production publishes closed months only (tested below)."""
    settings.TRANSPARENCY_OPEN_MONTH = True


SECRET_EMAIL = "jane.private@example.org"
SECRET_CASE = "CASE-SECRET-4242"
SECRET_PURPOSE = "Locate Jane Private for the Smith custody matter"
SECRET_ORG = "Hidden Detectives Ltd"
SECRET_USER = "analyst.hidden@detectives.example"


def _month() -> str:
    return f"{timezone.localdate():%Y-%m}"


def _searches(
    n: int, *, basis: str = LawfulBasis.PUBLIC_TASK, org: Organisation | None = None
) -> None:
    org = org or factories.organisation(SECRET_ORG)
    user = (
        factories.member(org, email=SECRET_USER)
        if not org.memberships.exists()
        else org.memberships.first().user
    )  # type: ignore[attr-defined,union-attr]
    for i in range(n):
        SearchRequest.objects.create(
            organisation=org,
            user=user,
            purpose=SECRET_PURPOSE,
            lawful_basis=basis,
            case_reference=f"{SECRET_CASE}-{basis}-{i}",
            status=SearchRequest.Status.DONE,
        )


def _request(
    type_: str = RequestType.ERASURE,
    *,
    answered_days: int | None = None,
    due_in: int = 30,
    **extra: object,
) -> SubjectRequest:
    now = timezone.now()
    received = now - timedelta(days=answered_days or 0)
    fields: dict[str, object] = {
        "reference": "SR-" + secrets.token_hex(4).upper(),
        "type": type_,
        "email": SECRET_EMAIL,
        "received_at": received,
        "verified_at": received,
        "due_date": timezone.localdate(received) + timedelta(days=due_in),
        "original_due_date": timezone.localdate(received) + timedelta(days=due_in),
        "status_token_hash": secrets.token_hex(32),
        "status": SubjectRequest.Status.IN_REVIEW,
        "details": "My name is Jane Private",
    }
    if answered_days is not None:
        fields.update(status=SubjectRequest.Status.COMPLETED, completed_at=now)
    fields.update(extra)
    return SubjectRequest.objects.create(**fields)


def _figures(client) -> dict[str, str]:  # type: ignore[no-untyped-def]
    response = client.get("/transparency/")
    assert response.status_code == 200
    soup = BeautifulSoup(response.content, "html.parser")
    return {str(td["data-key"]): td.get_text(" ", strip=True) for td in soup.select("td[data-key]")}


def _csv(client, month: str | None = None) -> dict[str, str]:  # type: ignore[no-untyped-def]
    response = client.get(f"/transparency/{month or _month()}.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    return {row["key"]: row["value"] for row in rows}


@pytest.mark.parametrize(
    ("n", "shown"),
    [(1, "< 5"), (4, "< 5"), (5, "5"), (6, "6")],
    ids=[
        "one-search-suppressed",
        "four-suppressed-just-below",
        "five-shown-at-threshold",
        "six-shown",
    ],
)
def test_search_counts_are_suppressed_below_five_and_shown_from_five(
    client, n: int, shown: str
) -> None:
    _searches(n)
    figures = _csv(client)
    assert figures["searches.total"] == shown
    assert figures[f"searches.basis.{LawfulBasis.PUBLIC_TASK}"] == shown
    assert figures["searches.organisations"] == "< 5"  # one organisation searched
    assert figures[f"searches.basis.{LawfulBasis.LEGAL_OBLIGATION}"] == "0", (
        "zero describes no one: shown as 0"
    )


@pytest.mark.parametrize(
    ("n", "shown"), [(1, "< 5"), (4, "< 5"), (5, "5"), (6, "6")], ids=["1", "4", "5", "6"]
)
def test_subject_request_counts_suppressed_exactly_at_the_threshold(
    client, n: int, shown: str
) -> None:
    for _ in range(n):
        _request(RequestType.OBJECTION)
    figures = _csv(client)
    assert figures["requests.received.objection"] == shown
    assert figures["requests.received.total"] == shown
    assert figures["requests.received.access"] == "0"


def test_one_hidden_cell_in_a_breakdown_hides_a_second_so_subtraction_finds_nothing(client) -> None:
    """Bad input: 6 + 2 searches with a published total of 8 would give away the 2 by subtraction."""
    org = factories.organisation(SECRET_ORG)
    _searches(6, basis=LawfulBasis.PUBLIC_TASK, org=org)
    _searches(2, basis=LawfulBasis.LEGAL_OBLIGATION, org=org)
    figures = _csv(client)
    assert figures["searches.total"] == "8"
    assert figures[f"searches.basis.{LawfulBasis.LEGAL_OBLIGATION}"] == "< 5"
    assert figures[f"searches.basis.{LawfulBasis.PUBLIC_TASK}"] == "withheld"
    assert figures[f"searches.basis.{LawfulBasis.VITAL_INTERESTS}"] == "0"


def test_a_figure_published_twice_cannot_undo_the_hiding_in_another_breakdown(client) -> None:
    """Bad input: 8 answered, 6 on time, 2 late. Hiding "on time" in answered = on time + late would be
    undone by the on-time total of the by-type breakdown, and that total by its single type cell."""
    for _ in range(6):
        _request(RequestType.ACCESS, answered_days=3)
    for _ in range(2):
        _request(RequestType.ACCESS, answered_days=40, due_in=30)
    figures = _csv(client)
    assert figures["requests.answered.total"] == "8"
    assert figures["requests.answered.late"] == "< 5"
    assert figures["requests.on_time.total"] == "withheld"
    assert figures["requests.on_time.access"] == "withheld"
    assert figures["requests.on_time.erasure"] == "0"


@pytest.mark.parametrize(
    ("cells", "total", "expected"),
    [
        ([6, 2, 0], 8, ["withheld", "< 5", "0", "8"]),
        ([6, 2, 7], 15, ["withheld", "< 5", "7", "15"]),
        ([3, 4, 0], 7, ["< 5", "< 5", "0", "7"]),
        ([3, 0, 0], 3, ["< 5", "0", "0", "< 5"]),
        ([5, 0, 0], 5, ["5", "0", "0", "5"]),
        ([0, 0, 0], 0, ["0", "0", "0", "0"]),
    ],
    ids=[
        "one-small-hides-the-smallest-other",
        "smallest-nonzero-is-chosen",
        "two-small-need-nothing-more",
        "small-total-and-cell",
        "at-threshold-nothing-hidden",
        "all-zero",
    ],
)
def test_complementary_suppression_rule(cells: list[int], total: int, expected: list[str]) -> None:
    series = [t.Series(f"c{i}", "s", f"c{i}", lambda p: 0, group="g") for i in range(len(cells))]
    series.append(t.Series("total", "s", "total", lambda p: 0, group="g", total=True))
    raw: dict[str, t.Value] = {f"c{i}": v for i, v in enumerate(cells)}
    raw["total"] = total
    shown = t.suppress(raw, series)
    assert [shown[s.key][0] for s in series] == expected


@pytest.mark.parametrize(
    ("answered", "published"),
    [(4, False), (5, True)],
    ids=["median-of-4-withheld", "median-of-5-shown"],
)
def test_median_time_to_answer_needs_five_cases(client, answered: int, published: bool) -> None:
    for days in range(answered):
        _request(RequestType.ACCESS, answered_days=10 + days)
    figures = _csv(client)
    assert figures["requests.answered.total"] == (str(answered) if published else "< 5")
    assert figures["requests.median_days"] == ("12.0" if published else "withheld")


def test_on_time_late_overdue_and_extended(client) -> None:
    for _ in range(5):
        _request(RequestType.ACCESS, answered_days=3)  # answered on time
    for _ in range(5):
        _request(RequestType.ERASURE, answered_days=40, due_in=30)  # answered after its due date
    for _ in range(6):
        _request(
            RequestType.ERASURE,
            answered_days=None,
            received_at=timezone.now() - timedelta(days=1),
            due_date=timezone.localdate() - timedelta(days=1),
            extended=True,
            extended_at=timezone.now(),
        )
    figures = _csv(client)
    assert figures["requests.answered.total"] == "10"
    assert figures["requests.on_time.total"] == "5"
    assert figures["requests.answered.late"] == "5"
    assert figures["requests.on_time.access"] == "5"
    assert figures["requests.on_time.erasure"] == "0"
    assert figures["requests.overdue.erasure"] == "6"
    assert figures["requests.extended.total"] == "6"


def test_erasures_faces_removed_and_do_not_collect_list(client) -> None:
    """Faces removed is a sum over erasures: withheld below 5 erasures; the list size is rounded down."""
    for faces in (3, 1, 2, 2, 4):
        receipt_request = _request(RequestType.ERASURE, answered_days=1)
        ErasureReceipt.objects.create(request=receipt_request, counts={"faces": faces, "images": 1})
    for i in range(7):
        Suppression.objects.create(
            kind=Suppression.Kind.IMAGE, value_sha256=f"{i:064x}", request_reference="SR-SECRET"
        )
    figures = _csv(client)
    assert figures["erasures.total"] == "5"
    assert figures["erasures.faces_removed"] == "12"
    assert figures["objections.do_not_collect"] == "5", "7 entries are published rounded down to 5"
    ErasureReceipt.objects.order_by("pk").last().delete()  # type: ignore[union-attr]
    Suppression.objects.filter(value_sha256__endswith="6").delete()
    Suppression.objects.filter(value_sha256__endswith="5").delete()
    Suppression.objects.filter(value_sha256__endswith="4").delete()
    Suppression.objects.filter(value_sha256__endswith="3").delete()
    from django.core.cache import cache

    cache.clear()
    figures = _csv(client)
    assert figures["erasures.total"] == "< 5"
    assert figures["erasures.faces_removed"] == "withheld", (
        "a sum over 4 erasures would describe them"
    )
    assert figures["objections.do_not_collect"] == "< 5"


def test_opt_out_signals_counted_from_the_crawler_frontier(client) -> None:
    source = Source.objects.create(
        name="Example news",
        scope=["https://news.example/"],
        jurisdictions=["FR"],
        lawful_basis="legitimate_interests",
        art9_condition="manifestly_public",
        dpia_reference="DPIA-1",
        status=Source.Status.APPROVED,
    )
    job = CrawlJob.objects.create(source=source, status=CrawlJob.Status.DONE)
    items = [
        ("page", "robots_disallow", 5),
        ("image", "meta_robots_opt_out", 3),
        ("image", "x_robots_tag_opt_out", 3),
        ("page", "tdm_reservation", 1),
        ("image", "duplicate", 9),
    ]
    for kind, reason, n in items:
        for i in range(n):
            CrawlItem.objects.create(
                job=job,
                kind=kind,
                url=f"https://news.example/{reason}/{i}",
                status="skipped",
                reason=reason,
            )
    figures = _csv(client)
    assert figures["optout.robots.page"] == "5"
    assert figures["optout.robots.image"] == "0"
    assert figures["optout.noimageindex.image"] == "6", (
        "meta tag and header both count as noimageindex"
    )
    assert figures["optout.tdm.page"] == "< 5"


def test_audit_chain_state_and_latest_anchor(client, settings, tmp_path) -> None:
    settings.AUDIT_ANCHOR_DIR = tmp_path / "anchors"
    import base64

    from audit.tlog import sequence_all

    event = audit_record(actor=None, action="test.transparency", target="x", outcome="success")
    sequence_all()
    anchor = audit_anchor_write()  # holds the latest signed checkpoint
    assert _csv(client)["audit.verified_through"] == "—", "the page never verifies the chain itself"
    assert b"first check has not finished" in client.get("/transparency/").content
    assert transparency_chain_check() is True  # what Celery beat runs hourly
    figures = _csv(client)
    assert figures["audit.verified_through"] == str(event.seq)
    assert figures["audit.anchor_seq"] == str(event.seq)
    assert figures["audit.anchor_hash"] == base64.b64decode(anchor["root"]).hex()


def test_page_figures_are_exactly_what_the_csv_and_json_hold(client) -> None:
    _searches(6)
    for _ in range(3):
        _request(RequestType.ACCESS, answered_days=2)
    page = _figures(client)
    csv_figures = _csv(client)
    body = json.loads(client.get(f"/transparency/{_month()}.json").content)
    json_figures = {f["key"]: f["value"] for f in body["figures"]}
    assert page, "the page shows figures"
    assert set(page) == set(csv_figures) == set(json_figures) == {s.key for s in t.SERIES}
    assert {k: v.removesuffix(" days") for k, v in page.items()} == csv_figures == json_figures
    assert page["searches.total"] == "6"


def test_nothing_personal_in_page_csv_or_json(client) -> None:
    """Bad input: emails, names, case references and purposes in every table the report reads."""
    _searches(6)
    references = [_request(RequestType.ERASURE, answered_days=2).reference for _ in range(6)]
    Suppression.objects.create(
        kind=Suppression.Kind.IMAGE, value_sha256="a" * 64, request_reference=references[0]
    )
    bodies = [
        client.get("/transparency/").content.decode(),
        client.get(f"/transparency/{_month()}.csv").content.decode(),
        client.get(f"/transparency/{_month()}.json").content.decode(),
    ]
    for body in bodies:
        for secret in (
            SECRET_EMAIL,
            SECRET_CASE,
            SECRET_PURPOSE,
            SECRET_ORG,
            SECRET_USER,
            "Jane",
            *references,
        ):
            assert secret not in body


@pytest.mark.parametrize(
    "query",
    ["month=2026-13", "month=abc", "month=1999-01", "month=2999-01", "month="],
    ids=["month-13", "not-a-month", "before-any-data", "future", "empty"],
)
def test_a_bad_month_gets_a_clear_400(client, query: str) -> None:
    response = client.get(f"/transparency/?{query}")
    assert response.status_code == 400
    assert b"There is no report for that month" in response.content


@pytest.mark.parametrize("path", ["1999-01.csv", "2026-13.json", "latest.csv", "2999-01.json"])
def test_downloads_for_a_month_without_a_report_are_404(client, path: str) -> None:
    assert client.get(f"/transparency/{path}").status_code == 404


def test_public_without_login_and_linked_from_rights_and_footer(client) -> None:
    assert client.get("/transparency/").status_code == 200
    rights = client.get("/rights/").content.decode()
    assert rights.count('href="/transparency/"') >= 2, "a link in the page and one in the footer"


def test_a_closed_month_is_cached_and_an_open_one_is_refreshed(client) -> None:
    """The previous month is read once; a row added to it later does not change the cached figures."""
    audit_record(actor=None, action="test.first", target="x", outcome="success")
    previous = t.Period.of(timezone.localdate()).previous()
    org = factories.organisation(SECRET_ORG)
    user = factories.member(org, email=SECRET_USER)
    for _ in range(5):
        SearchRequest.objects.create(
            organisation=org,
            user=user,
            purpose="p",
            lawful_basis=LawfulBasis.PUBLIC_TASK,
            case_reference="c",
            created_at=previous.start + timedelta(days=1),
        )
    first = t.report_for(month=previous.month).by_key()["searches.total"].shown
    SearchRequest.objects.create(
        organisation=org,
        user=user,
        purpose="p",
        lawful_basis=LawfulBasis.PUBLIC_TASK,
        case_reference="c",
        created_at=previous.start + timedelta(days=2),
    )
    assert first == "5"
    assert t.report_for(month=previous.month).by_key()["searches.total"].shown == "5"
    assert t.raw_figures(previous)["searches.total"] == 5


def test_only_closed_months_are_published_by_default(client, settings) -> None:
    """Bad input: asking for the month in progress, whose figures would move as requests arrive."""
    settings.TRANSPARENCY_OPEN_MONTH = False
    _searches(6)
    this_month = _month()
    last_month = f"{t.Period.of(timezone.localdate()).previous().month:%Y-%m}"
    page = client.get("/transparency/")
    assert page.status_code == 200
    assert f'value="{this_month}"' not in page.content.decode()
    assert f'value="{last_month}" selected' in page.content.decode()
    assert client.get(f"/transparency/?month={this_month}").status_code == 400
    assert client.get(f"/transparency/{this_month}.csv").status_code == 404
    assert _csv(client, last_month)["searches.total"] == "0"


def test_registry_refuses_a_duplicate_key() -> None:
    with pytest.raises(ValueError, match="already registered"):
        t.register(t.Series("searches.total", "searches", "again", lambda p: 0))
