"""The crawler against a local test site: the gate, opt-outs, SSRF, limits, provenance, resumption."""

from __future__ import annotations

import hashlib
import json
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from compliance.models import AuditEvent
from crawling import jurisdiction, services
from crawling.fetcher import FetchRefused, check_address
from crawling.models import CrawlItem, CrawlJob, Source
from search.models import SourceImage
from subjects.services import suppression_add
from tests.crawling.site import serve
from tests.search import photos

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _run_in_process(request, monkeypatch):
    """Tests that drive crawl_job_run themselves must not race a live worker for the same job."""
    if request.node.get_closest_marker("worker") is None:
        from crawling import tasks

        monkeypatch.setattr(tasks.crawl_job_run, "delay", lambda *args, **kwargs: None)


@pytest.fixture
def site():
    with serve() as running:
        yield running


def add_source(
    site, *, name="Test site", jurisdictions=("FR",), approve_as=None, **extra
) -> Source:
    source = services.source_add(
        name=name,
        scope=[site.base + "/"],
        jurisdictions=list(jurisdictions),
        lawful_basis="legitimate_interests",
        art9_condition="manifestly_public",
        dpia_reference="DPIA-1",
        **extra,
    )
    if approve_as is not None:
        source = services.source_approve(source=source, actor=approve_as)
    return source


def run_to_end(job: CrawlJob, budget: float = 30) -> None:
    while services.crawl_job_run(job_id=job.pk, budget_seconds=budget):
        pass


@pytest.mark.worker
def test_crawl_through_a_real_worker_stores_the_right_images_with_provenance(
    site, dpo, celery_worker_process
):
    add_source(site, approve_as=dpo)
    suppression_add(actor=dpo, request_reference="OBJ-1", images=[photos.photo("img6.jpg")])
    out = StringIO()
    call_command("crawl", "--source", "Test site", "--wait", "--timeout", "120", stdout=out)
    counts = json.loads(out.getvalue())
    stored_urls = set(SourceImage.objects.values_list("image_url", flat=True))
    expected = {
        f"{site.base}/img/{n}"
        for n in ("a.jpg", "couple.jpg", "three.jpg", "webp.webp", "og.jpg", "sitemap.jpg")
    }
    assert stored_urls == expected
    assert counts["stored"] == 6 and counts["status"] == "done"
    assert counts["faces"] >= 7  # couple.jpg holds two
    skipped = counts["skipped"]
    for reason, n in {
        "robots_disallow": 1,
        "x_robots_tag_opt_out": 2,
        "meta_robots_opt_out": 1,
        "tdm_reservation": 2,
        "redirect_out_of_scope": 1,
        "too_large": 1,
        "timeout": 1,
        "http_404": 1,
        "link_local_address": 2,
        "private_address": 1,
        "duplicate": 1,
        "suppressed": 1,
        "image_not_an_image": 1,
    }.items():
        assert skipped.get(reason) == n, (reason, skipped)
    # Refused addresses and disallowed pages were never fetched; the suppressed person is not stored.
    assert site.hits["/private/secret.html"] == 0 and site.hits["/img/private.jpg"] == 0
    assert (
        site.hits["/img/hdr.jpg"] == 0
        and site.hits["/img/meta.jpg"] == 0
        and site.hits["/img/tdm.jpg"] == 0
    )
    assert not SourceImage.objects.filter(
        sha256=hashlib.sha256(photos.photo("img6.jpg")).hexdigest()
    ).exists()
    # Provenance.
    image = SourceImage.objects.get(image_url=f"{site.base}/img/three.jpg")
    assert image.page_url == f"{site.base}/page1.html" and image.source.name == "Test site"
    assert (
        image.http_status == 200
        and image.fetched_at
        and image.jurisdiction == "FR"
        and image.perceptual_hash
    )
    assert image.source_label == "Test site"
    assert {e.action for e in AuditEvent.objects.all()} >= {
        "crawling.job.created",
        "crawling.job.completed",
        "crawling.source.approved",
        "search.source_image.stored",
    }


def test_unapproved_suspended_and_out_of_scope_are_refused(site, dpo):
    source = add_source(site)
    with pytest.raises(services.CrawlRefused, match="not been approved"):
        services.crawl_job_create(source=source)
    with pytest.raises(CommandError, match="not been approved"):
        call_command("crawl", "--source", source.name)
    services.source_approve(source=source, actor=dpo)
    services.source_suspend(source=source, actor=dpo, reason="complaint received")
    with pytest.raises(services.CrawlRefused, match="suspended: complaint received"):
        services.crawl_job_create(source=source)
    assert (
        AuditEvent.objects.filter(action="crawling.job.refused").count() == 3
    )  # service, command, suspended
    assert not CrawlJob.objects.exists()
    assert site.hits.total() == 0


def test_only_a_dpo_approves_and_excluded_jurisdictions_cannot_be(site, dpo, teammate):
    source = add_source(site)
    with pytest.raises(ValidationError, match="data-protection officer"):
        services.source_approve(source=source, actor=teammate)
    uk = add_source(site, name="UK site", jurisdictions=["GB"])
    with pytest.raises(ValidationError, match="excluded jurisdiction"):
        services.source_approve(source=uk, actor=dpo)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("scope", ["ftp://example.org/"]),
        ("lawful_basis", "because"),
        ("art9_condition", ""),
        ("dpia_reference", " "),
        ("jurisdictions", []),
    ],
)
def test_source_needs_scope_basis_condition_dpia_and_jurisdiction(field, value):
    fields = {
        "name": "x",
        "scope": ["https://example.org/"],
        "jurisdictions": ["FR"],
        "lawful_basis": "legitimate_interests",
        "art9_condition": "manifestly_public",
        "dpia_reference": "D-1",
        field: value,
    }
    with pytest.raises(ValidationError) as exc:
        services.source_add(**fields)
    assert field in exc.value.message_dict
    assert not Source.objects.exists()


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://169.254.169.254/latest/meta-data/", "link_local_address"),
        ("http://10.0.0.1/", "private_address"),
        ("http://192.168.1.1/", "private_address"),
        ("http://224.0.0.1/", "multicast_address"),
        ("http://[::1]/", "loopback_address"),
        ("http://127.0.0.1/", "loopback_address"),
        ("file:///etc/passwd", "bad_scheme"),
        ("http://user:pw@example.org/", "credentials_in_url"),
    ],
)
def test_ssrf_guard(settings, url, code):
    settings.CRAWL_ALLOW_LOOPBACK = False
    with pytest.raises(FetchRefused) as exc:
        check_address(url)
    assert exc.value.code == code


def test_a_crawl_interrupted_half_way_resumes_without_duplicates(site, dpo):
    source = add_source(site, approve_as=dpo)
    job = services.crawl_job_create(source=source)
    # The worker "dies" after a short budget, several times; each new run picks up the frontier.
    for _ in range(3):
        services.crawl_job_run(job_id=job.pk, budget_seconds=0.2)
    job.refresh_from_db()
    assert job.status == CrawlJob.Status.RUNNING
    run_to_end(job)
    job.refresh_from_db()
    assert job.status == CrawlJob.Status.DONE
    assert SourceImage.objects.count() == 7  # nobody objected here, so suppressed.jpg is stored too
    assert (
        SourceImage.objects.filter(source=source).count() == 7
    )  # each linked to the source that declared it
    # (/page1.html is also reached through /redirect-in, so it is fetched twice by design.)
    for path in ("/img/a.jpg", "/img/couple.jpg", "/img/three.jpg", "/from-sitemap.html", "/"):
        assert site.hits[path] == 1, (path, site.hits[path])
    assert (
        CrawlItem.objects.filter(job=job).count()
        == CrawlItem.objects.filter(job=job).values("kind", "url").distinct().count()
    )
    # A second crawl of the same source stores nothing new, and updates last seen.
    before = SourceImage.objects.get(image_url=f"{site.base}/img/a.jpg").last_seen
    second = services.crawl_job_create(source=source)
    run_to_end(second)
    assert SourceImage.objects.count() == 7
    assert SourceImage.objects.get(image_url=f"{site.base}/img/a.jpg").last_seen > before


def test_pause_resume_and_cancel(site, dpo):
    source = add_source(site, approve_as=dpo)
    job = services.crawl_job_create(source=source)
    services.crawl_job_set_status(job=job, status=CrawlJob.Status.PAUSED, actor=dpo)
    assert services.crawl_job_run(job_id=job.pk) is False
    assert site.hits.total() == 0
    services.crawl_job_set_status(job=job, status=CrawlJob.Status.QUEUED, actor=dpo)
    services.crawl_job_run(job_id=job.pk, budget_seconds=0.2)
    services.crawl_job_set_status(job=job, status=CrawlJob.Status.CANCELLED, actor=dpo)
    hits = site.hits.total()
    assert services.crawl_job_run(job_id=job.pk) is False
    assert site.hits.total() == hits
    with pytest.raises(ValidationError):
        services.crawl_job_set_status(job=job, status=CrawlJob.Status.QUEUED, actor=dpo)
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"crawling.job.paused", "crawling.job.resumed", "crawling.job.cancelled"} <= actions


def test_excluded_jurisdiction_signals_stop_storage(site, dpo):
    source = add_source(site, approve_as=dpo)
    site.routes["/page1.html"] = (
        200,
        {"Content-Type": "text/html"},
        b'<html lang="en-GB"><body><img src="/img/three.jpg"></body></html>',
    )
    run_to_end(services.crawl_job_create(source=source))
    assert not SourceImage.objects.filter(image_url=f"{site.base}/img/three.jpg").exists()
    assert CrawlJob.objects.get().skipped["excluded_jurisdiction"] == 1


def test_jurisdiction_signals():
    assert jurisdiction.from_tld("https://www.example.co.uk/a") == "GB"
    assert jurisdiction.from_tld("https://example.fr/") == "FR"
    assert jurisdiction.from_tld("https://example.com/") == ""
    assert jurisdiction.from_lang("en-GB") == "GB" and jurisdiction.from_lang("fr") == ""
    assert (
        jurisdiction.excluded_by({"source": ["FR"], "cctld": "GB", "lang": "", "gps": ""})
        == "cctld:GB"
    )
    assert (
        jurisdiction.excluded_by({"source": ["GB-SCT"], "cctld": "", "lang": "", "gps": ""})
        == "source:GB-SCT"
    )
    assert jurisdiction.excluded_by({"source": ["US-IL"], "cctld": "", "lang": "", "gps": ""}) == ""


def test_gps_in_exif_is_a_signal():
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(photos.photo("img1.jpg")))
    exif = Image.Exif()
    gps = {1: "N", 2: (51.0, 30.0, 0.0), 3: "W", 4: (0.0, 7.0, 0.0)}  # London
    exif[0x8825] = gps
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    assert jurisdiction.from_gps(out.getvalue()) == "GB"
    assert jurisdiction.from_gps(photos.photo("img1.jpg")) == ""


def test_source_add_and_crawl_commands(site, dpo):
    out = StringIO()
    call_command(
        "source_add",
        "--name",
        "Cmd site",
        "--scope",
        site.base + "/",
        "--jurisdiction",
        "FR",
        "--lawful-basis",
        "legitimate_interests",
        "--art9",
        "manifestly_public",
        "--dpia",
        "DPIA-2",
        "--approve-as",
        dpo.email,
        stdout=out,
    )
    assert json.loads(out.getvalue())["status"] == "approved"
    with pytest.raises(CommandError, match="not an active data-protection officer"):
        call_command(
            "source_add",
            "--name",
            "Other",
            "--scope",
            site.base + "/",
            "--jurisdiction",
            "FR",
            "--lawful-basis",
            "legitimate_interests",
            "--art9",
            "manifestly_public",
            "--dpia",
            "D",
            "--approve-as",
            "nobody@example.com",
        )
