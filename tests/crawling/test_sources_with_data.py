"""Every source with data is declared to the public and in the Art 30 record; the README's import example works."""

from __future__ import annotations

import json
import re
import shlex
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from compliance.reports import art30_record
from crawling import services
from crawling.models import Source
from search import services as search_services
from search.models import SourceImage
from tests.search import photos

ROOT = Path(__file__).resolve().parents[2]


def _source(name: str, *, kind: str = "local", approve_as=None, **extra) -> Source:
    source = services.source_add(
        name=name,
        scope=[] if kind == "local" else ["https://news.example/"],
        jurisdictions=["FR"],
        lawful_basis="legitimate_interests",
        art9_condition="manifestly_public",
        dpia_reference="DPIA-4",
        kind=kind,
        **extra,
    )
    return (
        services.source_approve(source=source, actor=approve_as)
        if approve_as is not None
        else source
    )


def _store(name: str, source: Source | None, label: str = "") -> None:
    search_services.source_image_store(
        data=photos.photo(name), source_label=label or source.name, source=source
    )  # type: ignore[union-attr]


@pytest.mark.django_db
def test_notice_and_art30_list_every_source_with_data_imported_or_crawled(client, dpo):
    """Imported photos once made the notice say 'No source is being crawled'; a suspended source still holding
    photos, and photos under an undeclared name, must be listed too. A proposed source without data is not."""
    press = _source("Press kit", approve_as=dpo)
    news = _source("News site", kind="web", approve_as=dpo)
    old = _source("Old archive", approve_as=dpo)
    _store("img1.jpg", press)
    _store("img3.jpg", news)
    _store("img5.jpg", old)
    services.source_suspend(source=old, actor=dpo, reason="complaint received")
    _store("img7.jpg", None, label="legacy import")
    _source("Not yet", kind="web")  # proposed, no data: not a source we collect from
    page = client.get(reverse("subjects:notice")).content.decode()
    assert "No source is being crawled" not in page and "We hold no photos" not in page
    assert "Press kit: photos we imported from files we hold" in page
    assert "News site: web pages at https://news.example/" in page
    assert "Old archive" in page and "no longer collected" in page
    assert "legacy import" in page and "Not yet" not in page
    record = {row["name"]: row for row in art30_record()["sources"]}
    assert set(record) == {"Press kit", "News site", "Old archive", "legacy import"}
    assert record["Press kit"]["images"] == 1 and record["Press kit"]["dpia"] == "DPIA-4"
    assert record["Press kit"]["lawful_basis"].startswith("Legitimate interests")
    assert record["Old archive"]["status"] == "Suspended"
    assert record["legacy import"]["status"] == "Needs a declared source"


@pytest.mark.django_db
def test_the_notice_says_so_when_nothing_is_held(client):
    page = client.get(reverse("subjects:notice")).content.decode()
    assert "We hold no photos and collect from no source." in page


@pytest.mark.django_db
def test_a_local_source_has_no_scope_and_is_never_crawled(dpo):
    """Bad input: a local source with a URL scope; a crawl of a local source."""
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as exc:
        services.source_add(
            name="Mixed",
            scope=["https://x.example/"],
            jurisdictions=["FR"],
            lawful_basis="legitimate_interests",
            art9_condition="manifestly_public",
            dpia_reference="D",
            kind="local",
        )
    assert "scope" in exc.value.message_dict
    local = _source("Files", approve_as=dpo)
    with pytest.raises(services.CrawlRefused, match="local source"):
        services.crawl_job_create(source=local)


@pytest.mark.django_db
def test_reimporting_an_unlinked_photo_links_it_to_the_source(dpo):
    """Photos imported before imports needed a source are adopted when imported again into one."""
    _store("img1.jpg", None, label="demo")
    source = _source("demo", approve_as=dpo)
    result = services.import_file_store(
        source=source, data=photos.photo("img1.jpg"), original_name="/srv/photos/img1.jpg"
    )
    assert result.skipped == "duplicate"
    image = SourceImage.objects.get()
    assert image.source_id == source.pk
    from compliance.models import AuditEvent

    assert AuditEvent.objects.filter(
        action="search.source_image.linked", target_id=str(image.pk)
    ).exists()


@pytest.mark.django_db(transaction=True)
def test_the_readme_import_example_works_as_written_on_a_fresh_database(client, monkeypatch):
    """Runs the README's command sequence literally (after `make run`'s first admin), on ../shared/faces."""
    from accounts.services import admin_ensure

    block = (ROOT / "README.md").read_text().split("<!-- import-example -->", 1)[1]
    commands = re.search(r"```sh\n(.*?)```", block, re.S).group(1).strip().splitlines()  # type: ignore[union-attr]
    admin_ensure(email="admin@example.com", password=None)  # what `make run` does on a fresh clone
    monkeypatch.chdir(ROOT)
    outputs = []
    for line in commands:
        if line.startswith(". "):
            continue  # activating the virtual environment
        argv = shlex.split(line)
        assert argv[:2] == ["python", "manage.py"], line
        out = StringIO()
        call_command(*argv[2:], stdout=out, stderr=StringIO())
        outputs.append(json.loads(out.getvalue()))
    assert outputs[0]["status"] == "approved" and outputs[0]["kind"] == "local"
    summary = outputs[-1]
    assert summary["images"] == len(list(photos.IMAGES.glob("*.jpg"))) > 50  # found below images/
    assert summary["stored"] > 50 and summary["faces"] > 50
    demo = Source.objects.get(name="demo")
    assert (
        SourceImage.objects.filter(source=demo).count()
        == summary["stored"]
        == SourceImage.objects.count()
    )
    page = client.get(reverse("subjects:notice")).content.decode()
    assert "demo: photos we imported from files we hold" in page


@pytest.mark.django_db
def test_source_approve_command(dpo, teammate):
    """Bad input: an unknown source, an approver who is not a DPO; then a DPO approves (audited)."""
    from django.core.management.base import CommandError

    from compliance.models import AuditEvent

    with pytest.raises(CommandError, match="No source named 'Files'"):
        call_command("source_approve", "--name", "Files", "--as", dpo.email)
    source = _source("Files")
    with pytest.raises(CommandError, match="not an active data-protection officer"):
        call_command("source_approve", "--name", "Files", "--as", teammate.email)
    out = StringIO()
    call_command("source_approve", "--name", "Files", "--as", dpo.email, stdout=out)
    assert json.loads(out.getvalue())["status"] == "approved"
    source.refresh_from_db()
    assert source.status == Source.Status.APPROVED and source.approved_by == dpo
    assert AuditEvent.objects.filter(
        action="crawling.source.approved", target_id=str(source.pk)
    ).exists()
