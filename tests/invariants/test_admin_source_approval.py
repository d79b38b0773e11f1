"""Invariant matrix: what the DPO approved stays approved only while unchanged, on every path that
changes a source (Django admin, ``source_add --update``, ``import_images``, the DPO's source form).

Admin is driven through the real test client as a logged-in superuser with a TOTP authenticator.
The per-admin decisions (crawling.Source: add / change through crawling.services, a change to what
the DPO approved withdraws the approval, no delete) are listed in test_admin_view_only_and_audit.py;
the rows here were checked against the code before the fix in the same way: each failed there
(sources stayed approved, ``--update`` and ``/sources/<id>/edit/`` did not exist, and the bypassing
writes went through). The tests without a "<guarantee> × <path>" id are guards for behaviour that
held before and must keep holding (an unchanged save keeps the approval).
"""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction
from django.urls import reverse

from compliance.models import AuditEvent
from crawling import services as crawling
from crawling.models import CrawlJob, Source
from search.models import SourceImage
from tests.invariants.admin_support import (
    _events,
    _no_crawl_worker,  # noqa: F401 (an autouse fixture)
    one_row,
)
from tests.search import photos

pytestmark = pytest.mark.django_db


# --- What the DPO approved × every path that changes a source -------------------------------------


def _approved(dpo) -> Source:
    source = crawling.source_add(
        name="News site",
        scope=["https://news.example.org/"],
        jurisdictions=["FR"],
        lawful_basis="legitimate_interests",
        art9_condition="manifestly_public",
        dpia_reference="DPIA-7",
    )
    source = crawling.source_approve(source=source, actor=dpo)
    assert source.status == Source.Status.APPROVED
    return source


def _admin_form(source: Source, **override) -> dict[str, str]:
    data = {
        "name": source.name,
        "kind": source.kind,
        "scope": json.dumps(source.scope),
        "jurisdictions": json.dumps(source.jurisdictions),
        "lawful_basis": source.lawful_basis,
        "art9_condition": source.art9_condition,
        "dpia_reference": source.dpia_reference,
        "crawl_rate": str(source.crawl_rate),
        "page_limit": str(source.page_limit),
        "max_depth": str(source.max_depth),
    }
    data.update(override)
    return data


def _assert_sent_back(source: Source, job: CrawlJob | None = None) -> None:
    source.refresh_from_db()
    assert source.status == Source.Status.PROPOSED
    assert source.approved_by_id is None and source.approved_at is None
    assert "awaiting" in source.status_reason
    with pytest.raises(crawling.CrawlRefused, match="not been approved"):
        crawling.crawl_job_create(source=source)
    if job is not None:
        job.refresh_from_db()
        assert job.status == CrawlJob.Status.CANCELLED
        assert crawling.crawl_job_run(job_id=job.pk) is False
    [event] = AuditEvent.objects.filter(
        action="crawling.source.changed", target_type="crawling.source", target_id=str(source.pk)
    )
    assert event.details["approval_withdrawn"] is True


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        pytest.param(
            "scope",
            json.dumps(["https://news.example.org/", "https://other.example/"]),
            ["https://news.example.org/", "https://other.example/"],
            id="DPO approval × admin source edit (scope)",
        ),
        pytest.param(
            "lawful_basis",
            "consent",
            "consent",
            id="DPO approval × admin source edit (lawful basis)",
        ),
        pytest.param(
            "art9_condition",
            "legal_claims",
            "legal_claims",
            id="DPO approval × admin source edit (Art 9 condition)",
        ),
        pytest.param(
            "dpia_reference",
            "DPIA-8",
            "DPIA-8",
            id="DPO approval × admin source edit (DPIA reference)",
        ),
        pytest.param("crawl_rate", "50", 50.0, id="DPO approval × admin source edit (crawl rate)"),
    ],
)
def test_admin_source_edit_sends_it_back_for_approval(admin_client, dpo, field, value, expected):
    """Input: one approved field changed on the source's admin form, with a crawl queued."""
    source = _approved(dpo)
    before = getattr(source, field)
    job = crawling.crawl_job_create(source=source, actor=dpo)
    response = admin_client.post(
        f"/admin/crawling/source/{source.pk}/change/", _admin_form(source, **{field: value})
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    source.refresh_from_db()
    assert getattr(source, field) == expected
    _assert_sent_back(source, job)
    [admin_event] = _events("admin.crawling.source.changed", source)
    assert field in admin_event.details["fields"] and "status" in admin_event.details["fields"]
    readable = {c["field"]: (c["old"], c["new"]) for c in admin_event.details["changes"]}
    assert readable[field] == (before, expected) and readable["status"] == ("approved", "proposed")


@one_row("DPO approval × admin source edit (jurisdiction to an excluded one)")
def test_admin_source_edit_to_an_excluded_jurisdiction_is_refused(row, admin_client, dpo):
    """Input: jurisdictions set to ["GB"]."""
    source = _approved(dpo)
    response = admin_client.post(
        f"/admin/crawling/source/{source.pk}/change/", _admin_form(source, jurisdictions='["GB"]')
    )
    assert response.status_code == 200
    assert "GB is an excluded jurisdiction" in response.content.decode()
    source.refresh_from_db()
    assert source.jurisdictions == ["FR"] and source.status == Source.Status.APPROVED


@one_row("DPO approval × source_add command")
def test_source_add_command_update_sends_it_back(row, dpo):
    """Input: ``source_add --update`` with a wider scope."""
    source = _approved(dpo)
    out = StringIO()
    call_command(
        "source_add",
        "--update",
        "--name",
        "News site",
        "--scope",
        "https://news.example.org/",
        "--scope",
        "https://x.example/",
        "--jurisdiction",
        "FR",
        "--lawful-basis",
        "legitimate_interests",
        "--art9",
        "manifestly_public",
        "--dpia",
        "DPIA-7",
        stdout=out,
    )
    assert json.loads(out.getvalue())["status"] == "proposed"
    source.refresh_from_db()
    assert source.scope == ["https://news.example.org/", "https://x.example/"]
    _assert_sent_back(source)


@one_row("DPO approval × import_images into a local source changed by source_add --update")
def test_import_into_a_changed_local_source_is_refused(row, tmp_path, dpo):
    """Input: an approved local source whose lawful basis ``source_add --local --update`` changes, then
    ``import_images`` of a real photo into it."""
    out = StringIO()
    common = [
        "--local",
        "--name",
        "press kit",
        "--jurisdiction",
        "FR",
        "--art9",
        "manifestly_public",
        "--dpia",
        "DPIA-3",
    ]
    call_command(
        "source_add",
        *common,
        "--lawful-basis",
        "legitimate_interests",
        "--approve-as",
        dpo.email,
        stdout=out,
    )
    assert json.loads(out.getvalue())["status"] == "approved"
    call_command("source_add", *common, "--lawful-basis", "consent", "--update", stdout=StringIO())
    (tmp_path / "img1.jpg").write_bytes(photos.photo("img1.jpg"))
    with pytest.raises(CommandError, match="not been approved"):
        call_command(
            "import_images",
            str(tmp_path),
            "--source",
            "press kit",
            stdout=StringIO(),
            stderr=StringIO(),
        )
    assert not SourceImage.objects.exists()
    _assert_sent_back(Source.objects.get(name="press kit"))


@one_row("DPO approval × DPO source form")
def test_dpo_source_form_sends_it_back(row, client, dpo):
    """Input: the lawful basis changed on /sources/<id>/edit/."""
    source = _approved(dpo)
    client.force_login(dpo)
    form = {
        "name": source.name,
        "scope": "https://news.example.org/",
        "jurisdictions": "FR",
        "lawful_basis": "public_task",
        "art9_condition": source.art9_condition,
        "dpia_reference": source.dpia_reference,
        "crawl_rate": "1",
        "page_limit": "500",
        "max_depth": "3",
    }
    response = client.post(reverse("crawling:edit", args=[source.pk]), form)
    assert response.status_code == 302
    source.refresh_from_db()
    assert source.lawful_basis == "public_task"
    _assert_sent_back(source)
    page = client.get(reverse("crawling:index"))
    assert "approval was withdrawn" in page.content.decode()


@one_row("excluded jurisdiction × DPO source form")
def test_dpo_source_form_refuses_an_excluded_jurisdiction(row, client, dpo):
    """Input: jurisdictions "FR, GB" on /sources/<id>/edit/."""
    source = _approved(dpo)
    client.force_login(dpo)
    form = {
        "name": source.name,
        "scope": "https://news.example.org/",
        "jurisdictions": "FR, GB",
        "lawful_basis": source.lawful_basis,
        "art9_condition": source.art9_condition,
        "dpia_reference": source.dpia_reference,
        "crawl_rate": "1",
        "page_limit": "500",
        "max_depth": "3",
    }
    response = client.post(reverse("crawling:edit", args=[source.pk]), form)
    assert response.status_code == 400
    assert "GB is an excluded jurisdiction" in response.content.decode()
    source.refresh_from_db()
    assert source.jurisdictions == ["FR"] and source.status == Source.Status.APPROVED


@pytest.mark.parametrize(
    "how",
    [
        pytest.param("queryset_update", id="DPO approval × QuerySet.update (shell, any code)"),
        pytest.param("model_save", id="DPO approval × Model.save (shell, any code)"),
    ],
)
def test_a_change_bypassing_the_service_is_refused(dpo, how):
    """Input: the scope of an approved source widened without the service, the row left approved."""
    source = _approved(dpo)
    with pytest.raises(IntegrityError, match="approval_guard"), transaction.atomic():
        if how == "queryset_update":
            Source.objects.filter(pk=source.pk).update(scope=["https://"])
        else:
            source.scope = ["https://"]
            source.save()
    source.refresh_from_db()
    assert source.scope == ["https://news.example.org/"] and source.status == Source.Status.APPROVED


def test_unchanged_save_keeps_the_approval(admin_client, dpo):
    """Not a failing row but its guard: saving the admin form unchanged keeps the approval (no false withdrawal)."""
    source = _approved(dpo)
    response = admin_client.post(f"/admin/crawling/source/{source.pk}/change/", _admin_form(source))
    assert response.status_code == 302
    source.refresh_from_db()
    assert source.status == Source.Status.APPROVED and source.approved_by_id == dpo.pk


def test_admin_adds_a_source_as_proposed(admin_client, dpo):
    """Guard: a source added in admin goes through source_add: proposed, audited, not crawlable."""
    form = {
        "name": "Added in admin",
        "kind": "web",
        "scope": '["https://added.example/"]',
        "jurisdictions": '["FR"]',
        "lawful_basis": "legitimate_interests",
        "art9_condition": "manifestly_public",
        "dpia_reference": "DPIA-9",
        "crawl_rate": "1",
        "page_limit": "500",
        "max_depth": "3",
    }
    response = admin_client.post("/admin/crawling/source/add/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    source = Source.objects.get(name="Added in admin")
    assert source.status == Source.Status.PROPOSED and source.approved_by_id is None
    assert _events("crawling.source.added", source) and _events(
        "admin.crawling.source.added", source
    )
    with pytest.raises(crawling.CrawlRefused, match="not been approved"):
        crawling.crawl_job_create(source=source)
