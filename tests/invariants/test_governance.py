"""Invariant matrix: the crawler's reach, legal holds, retention honesty, public wording, the access report.

One row per (guarantee × path that can break it). Each row causes the situation with the real services and
asserts what a person would check; the docstring or the row id says what input was tried.
"""

from __future__ import annotations

import io
import ipaddress
import json
import zipfile

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse

from compliance import retention
from compliance.models import AuditEvent, LegalHold, RetentionPolicy, SweepReceipt
from crawling import fetcher as fetcher_module
from crawling import services as crawling_services
from crawling.fetcher import Fetcher, FetchRefused
from crawling.models import CrawlItem, CrawlJob, Source
from search import services as search_services
from search.models import SearchHit, SearchRequest
from subjects import services as subject_services
from subjects.models import SubjectRequest
from tests.search import photos

pytestmark = pytest.mark.django_db(transaction=True)


# --- SSRF: the crawler connects only to globally reachable addresses ---------------------------------


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        pytest.param(
            "100.64.0.1", "private_address", id="SSRF × 100.64.0.1 (carrier-grade NAT, shared)"
        ),
        pytest.param(
            "192.0.0.8", "private_address", id="SSRF × 192.0.0.8 (IETF protocol assignments)"
        ),
        pytest.param(
            "2002:7f00:1::", "loopback_address", id="SSRF × 2002:7f00:1:: (6to4 of 127.0.0.1)"
        ),
        pytest.param(
            "2002:a9fe:a9fe::1",
            "link_local_address",
            id="SSRF × 2002:a9fe:a9fe::1 (6to4 of the metadata address)",
        ),
        pytest.param(
            "::ffff:100.64.0.1",
            "private_address",
            id="SSRF × ::ffff:100.64.0.1 (IPv4-mapped shared address)",
        ),
        pytest.param(
            "::ffff:192.0.0.8", "private_address", id="SSRF × ::ffff:192.0.0.8 (IPv4-mapped)"
        ),
    ],
)
def test_ssrf_the_crawler_refuses_an_address_that_is_not_global(
    settings, monkeypatch, answer, reason
):
    """A source in scope whose name resolves (the DNS answer is the input) to an address that is not globally
    reachable: the fetch is refused before any connection, with the reason the crawl report shows."""
    settings.CRAWL_ALLOW_LOOPBACK = False
    monkeypatch.setattr(
        fetcher_module, "resolve", lambda host, port: [ipaddress.ip_address(answer)]
    )
    crawler = Fetcher(scope=["https://photos.example.org/"], rate=0, timeout=1)
    try:
        with pytest.raises(FetchRefused) as refused:
            crawler.fetch("https://photos.example.org/gallery.html")
    finally:
        crawler.close()
    assert refused.value.code == reason


def test_ssrf_a_global_address_and_its_wrapped_forms_are_still_fetched_controls(settings):
    """Controls, not matrix rows: what must stay allowed (a global address, in mapped, NAT64 and 6to4 forms), and
    guard cases that already held before (IPv4-mapped loopback, fe80::1, NAT64 of the metadata address)."""
    settings.CRAWL_ALLOW_LOOPBACK = False
    for allowed in (
        "93.184.216.34",
        "::ffff:93.184.216.34",
        "64:ff9b::5db8:d822",
        "2002:5db8:d822::1",
        "2606:4700::1111",
    ):
        assert fetcher_module.address_refusal(ipaddress.ip_address(allowed)) == "", allowed
    for refused in ("::ffff:127.0.0.1", "fe80::1", "64:ff9b::a9fe:a9fe", "10.0.0.1", "::1"):
        assert fetcher_module.address_refusal(ipaddress.ip_address(refused)) != "", refused


# --- Scope: by origin and whole path segments --------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "url"),
    [
        pytest.param(
            "https://news.example.org",
            "https://news.example.org.attacker.example/",
            id="scope × attacker suffix host",
        ),
        pytest.param(
            "https://news.example.org/news",
            "https://news.example.org/newsletter/",
            id="scope × sibling path",
        ),
        pytest.param(
            "https://news.example.org/news/",
            "https://news.example.org/news/../admin/",
            id="scope × dot-segments",
        ),
        pytest.param(
            "https://news.example.org/news/",
            "https://news.example.org/news/%2e%2e/admin/",
            id="scope × encoded dot-segments",
        ),
        pytest.param(
            "https://news.example.org", "https://news.example.org:8443/", id="scope × port"
        ),
    ],
)
def test_scope_a_url_outside_the_approved_scope_is_not_fetched(scope, url):
    """The fetcher is asked for a URL that begins with the scope's text but is not inside it."""
    crawler = Fetcher(scope=[scope], rate=0, timeout=1)
    try:
        with pytest.raises(FetchRefused) as refused:
            crawler.fetch(url)
    finally:
        crawler.close()
    assert refused.value.code == "out_of_scope"


def test_scope_x_crawler_links_to_a_sibling_path_and_up_and_out_are_never_fetched(dpo):
    """scope × crawler: the approved scope is /news; the page links to /newsletter/ and to /news/../private/."""
    from tests.crawling.site import _page, serve

    with serve() as site:
        site.routes["/news/"] = (
            200,
            {"Content-Type": "text/html"},
            _page(
                f'<a href="{site.base}/newsletter/">sibling</a> <a href="/news/../private/">up</a> <a href="/news/a.html">in</a>'
            ),
        )
        site.routes["/news/a.html"] = (200, {"Content-Type": "text/html"}, _page("inside"))
        source = crawling_services.source_add(
            name="News only",
            scope=[f"{site.base}/news"],
            jurisdictions=["FR"],
            lawful_basis="legitimate_interests",
            art9_condition="manifestly_public",
            dpia_reference="DPIA-1",
        )
        crawling_services.source_approve(source=source, actor=dpo)
        job = crawling_services.crawl_job_create(source=source)
        CrawlItem.objects.filter(job=job).update(
            url=f"{site.base}/news/"
        )  # start at the section's index
        while crawling_services.crawl_job_run(job_id=job.pk, budget_seconds=30):
            pass
        job.refresh_from_db()
        assert job.status == CrawlJob.Status.DONE
        assert site.hits["/newsletter/"] == 0 and site.hits["/private/"] == 0
        assert site.hits["/news/a.html"] >= 1  # fetched (a retry under load may fetch it twice)
        refused = set(
            CrawlItem.objects.filter(job=job, reason="out_of_scope").values_list("url", flat=True)
        )
        assert f"{site.base}/newsletter/" in refused


def test_scope_x_redirect_to_a_sibling_path_is_not_followed():
    """scope × redirect: the scope is /news; /news/moved answers 302 to /newsletter/ on the same host."""
    from tests.crawling.site import _page, serve

    with serve() as site:
        site.routes["/news/moved"] = (302, {"Location": f"{site.base}/newsletter/"}, b"")
        site.routes["/newsletter/"] = (200, {"Content-Type": "text/html"}, _page("outside"))
        crawler = Fetcher(scope=[f"{site.base}/news"], rate=0, timeout=2)
        try:
            with pytest.raises(FetchRefused) as refused:
                crawler.fetch(f"{site.base}/news/moved")
        finally:
            crawler.close()
        assert refused.value.code == "redirect_out_of_scope"
        assert site.hits["/news/moved"] == 1 and site.hits["/newsletter/"] == 0


def test_scope_x_userinfo_in_a_source_scope_is_refused():
    """scope × userinfo: a source declared as https://news.example.org@attacker.example/ (the host is attacker.example)."""
    with pytest.raises(ValidationError) as refused:
        crawling_services.source_add(
            name="Tricky",
            scope=["https://news.example.org@attacker.example/"],
            jurisdictions=["FR"],
            lawful_basis="legitimate_interests",
            art9_condition="manifestly_public",
            dpia_reference="DPIA-1",
        )
    assert "scope" in refused.value.message_dict
    assert not Source.objects.exists()


# --- Legal holds name something that exists ----------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "field"),
    [
        pytest.param(
            {"scope": "source", "source_label": "No such site"},
            "source_label",
            id="legal hold × nonexistent source",
        ),
        pytest.param(
            {"scope": "organisation", "organisation": 987654},
            "organisation",
            id="legal hold × nonexistent organisation",
        ),
        pytest.param(
            {"scope": "face", "face_id": 987654}, "face_id", id="legal hold × nonexistent face"
        ),
        pytest.param(
            {"scope": "request", "request_reference": "R-NOPE0000"},
            "request_reference",
            id="legal hold × nonexistent request",
        ),
    ],
)
def test_legal_hold_on_something_that_does_not_exist_is_refused(dpo, target, field):
    """The DPO names a target that does not exist: refused on the field that names it; no hold is listed."""
    with pytest.raises(ValidationError) as refused:
        retention.legal_hold_create(reason="litigation", actor=dpo, **target)
    assert field in refused.value.message_dict
    assert not LegalHold.objects.exists()
    assert not AuditEvent.objects.filter(action="compliance.legal_hold.placed").exists()


def test_legal_hold_x_form_without_javascript_names_the_wrong_field(client, dpo, org):
    """legal hold × the form, every field posted (no JS): scope "source" with a typed name that is no source, and an
    organisation chosen as well. Refused on the source field; nothing placed."""
    client.force_login(dpo)
    response = client.post(
        reverse("compliance:legal_holds"),
        {
            "scope": "source",
            "source_label": "No such site",
            "organisation": org.pk,
            "reason": "litigation",
        },
    )
    assert response.status_code == 400
    assert "source_label" in response.context["form"].errors
    assert not LegalHold.objects.exists()


# --- Retention honesty ---------------------------------------------------------------------------------


def test_retention_x_0_day_period_is_refused(client, dpo):
    """retention × 0-day period, through the DPO's form: refused with the reason; the policy keeps its period."""
    retention.retention_policies_ensure()
    policy = RetentionPolicy.objects.get(data_class="access_packages")
    client.force_login(dpo)
    response = client.post(
        reverse("compliance:retention_edit", args=[policy.pk]),
        {"period_days": 0, "action": "delete", "reason": "space"},
    )
    assert response.status_code == 400 and "at least one day" in response.content.decode()
    assert RetentionPolicy.objects.get(pk=policy.pk).period_days == 30


def test_art30_x_change_reason_does_not_replace_the_published_why(client, dpo):
    """Art 30 × change reason: the DPO shortens a period, typing "storage cost review" as the reason. The Art 30
    record still shows the policy's published "why"; the reason is in the audit event and the change history."""
    from compliance.reports import art30_record

    retention.retention_policies_ensure()
    policy = RetentionPolicy.objects.get(data_class="access_packages")
    why = policy.reason
    client.force_login(dpo)
    response = client.post(
        reverse("compliance:retention_edit", args=[policy.pk]),
        {"period_days": 20, "action": "delete", "why": why, "reason": "storage cost review"},
    )
    assert response.status_code == 302
    shown = {p.data_class: p for p in art30_record()["retention"]}["access_packages"]
    assert (shown.period_days, shown.reason) == (20, why)
    event = AuditEvent.objects.get(action="compliance.retention_policy.changed")
    assert event.details["reason"] == "storage cost review"
    history = client.get(reverse("compliance:retention_edit", args=[policy.pk])).content.decode()
    assert "storage cost review" in history


def test_receipt_x_dpo_started_sweep_is_credited_to_the_dpo(client, dpo):
    """receipt × DPO-started sweep: the DPO presses "Run the retention sweep now"; the task runs (in process) and
    every receipt it writes names the DPO, not "system"."""
    from config.celery import app

    retention.retention_policies_ensure()
    client.force_login(dpo)
    app.conf.task_always_eager = True
    try:
        assert (
            client.post(reverse("compliance:sweep_now"), {"kind": "retention"}).status_code == 302
        )
    finally:
        app.conf.task_always_eager = False
    receipts = SweepReceipt.objects.filter(kind="retention")
    assert receipts.exists()
    assert set(receipts.values_list("actor_label", flat=True)) == {dpo.email}


# --- Where to complain ---------------------------------------------------------------------------------

PHRASES = {
    "en": "complain to the data-protection authority of the EU or EEA country where you live or work",
    "fr": "auprès de l&#x27;autorité de protection des données du pays de l&#x27;UE",
    "it": "presso l&#x27;autorità di protezione dei dati",
    "nl": "bij de gegevensbeschermingsautoriteit van het EU- of EER-land",
    "de": "bei der Datenschutzaufsichtsbehörde des EU- oder EWR-Staates",
}


@pytest.mark.parametrize(
    "language",
    list(PHRASES),
    ids=[f"regulator × excluded jurisdiction × rights page ({lang})" for lang in PHRASES],
)
def test_regulator_x_the_rights_page_never_sends_people_to_an_excluded_countrys_regulator(
    client, settings, language
):
    """GB is excluded; the rights page in each language names no UK regulator and reads grammatically."""
    settings.EXCLUDED_JURISDICTIONS = ["GB"]
    page = client.get(reverse("subjects:notice"), HTTP_ACCEPT_LANGUAGE=language).content.decode()
    assert "ico.org.uk" not in page and "ICO" not in page
    assert PHRASES[language] in page


def test_regulator_x_german_status_page(client, settings):
    """regulator × status page (de): a request filed from a German browser; its status page says "bei der", never
    "bei die"."""
    settings.EXCLUDED_JURISDICTIONS = ["GB"]
    response = client.post(
        reverse("subjects:request", args=["access"]),
        {"email": "person@example.net"},
        HTTP_ACCEPT_LANGUAGE="de",
    )
    page = client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "bei die " not in page and "ico.org.uk" not in page
    assert "bei der Datenschutzaufsichtsbehörde" in page


def test_regulator_x_deployment_wording_naming_an_excluded_countrys_regulator(client, settings):
    """regulator × REGULATOR_COMPLAINTS set to the UK ICO while GB is excluded: the default is shown instead."""
    settings.EXCLUDED_JURISDICTIONS = ["GB"]
    settings.REGULATOR_COMPLAINTS = (
        "the Information Commissioner's Office (ico.org.uk/make-a-complaint)"
    )
    page = client.get(reverse("subjects:notice"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "ico.org.uk" not in page
    assert PHRASES["en"] in page


# --- The access report ---------------------------------------------------------------------------------


@pytest.fixture
def access_package(client, dpo, owner):
    """The person's photo, imported as a file by "Family archive" (no web address), shown three times to the same
    organisation; an approved web source "Unrelated Gazette" holds none of their photos. Returns (report, data)."""
    imported = search_services.source_image_store(
        data=photos.photo("img1.jpg"),
        source_label="Family archive",
        original_name="holiday-2019.jpg",
    ).image
    search_services.source_images_analyse(image_ids=[imported.pk])
    unrelated = crawling_services.source_add(
        name="Unrelated Gazette",
        scope=["https://gazette.example.org/"],
        jurisdictions=["FR"],
        lawful_basis="legitimate_interests",
        art9_condition="manifestly_public",
        dpia_reference="DPIA-1",
    )
    crawling_services.source_approve(source=unrelated, actor=dpo)
    for case in ("CASE-1", "CASE-2", "CASE-3"):
        search = SearchRequest.objects.create(
            organisation=owner.membership.organisation,
            user=owner,
            purpose="p",
            lawful_basis="public_task",
            case_reference=case,
            status="done",
        )
        SearchHit.objects.create(
            search=search, face=imported.faces.get(), distance=0.03, confidence=0.9, rank=1
        )
    from tests.subjects.requests_support import approve_all, link, submit, verify

    req = submit(client, "access", selfie=photos.photo("img2.jpg"))
    verify(client)
    req = approve_all(SubjectRequest.objects.get(pk=req.pk), dpo)
    subject_services.request_execute(request=req, actor=dpo)
    download = client.post(link(mail.outbox[-1], "package"))
    archive = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
    return archive.read("report.html").decode(), json.loads(archive.read("data.json"))


def test_access_report_x_imported_file_is_not_called_a_web_page(access_package):
    """access report × imported file: the person's only photo is a file imported by "Family archive"."""
    report, data = access_package
    assert [i["origin"] for i in data["images"]] == ["imported_file"]
    assert (
        "photos from public web pages" not in data["categories"]
        and "photos from public web pages" not in report
    )
    assert "Family archive: the file “holiday-2019.jpg”, imported by this source" in report


def test_access_report_x_unrelated_source_is_not_listed(access_package):
    """access report × unrelated source: "Unrelated Gazette" is approved but holds none of the person's photos."""
    report, data = access_package
    assert data["sources"] == ["Family archive"]
    assert "Unrelated Gazette" not in report


def test_access_report_x_repeated_recipient_is_one_line(access_package):
    """access report × repeated recipient: the same organisation saw the photo in three searches."""
    report, data = access_package
    (image,) = data["images"]
    assert [r["organisation"] for r in image["recipients"]] == ["Acme Investigations"]
    assert len(image["recipients"][0]["times"]) == 3
    assert report.count("Acme Investigations on ") == 1
