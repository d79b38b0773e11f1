"""The access package's report.html: styled inline, dates in words, print-friendly, never a server path."""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone

from search import services as search_services
from search.models import SearchHit, SearchRequest
from subjects import services
from subjects.models import SubjectRequest
from tests.search import photos
from tests.subjects.requests_support import approve_all, link, submit, verify

pytestmark = pytest.mark.django_db(transaction=True)


def test_report_is_readable_and_shows_no_server_path(client, dpo, owner):
    """An imported photo (no web address, stored under MEDIA_ROOT) must show its source and own file name only."""
    imported = search_services.source_image_store(
        data=photos.photo("img1.jpg"), source_label="Demo import", original_name="holiday-2019.jpg"
    ).image
    crawled = search_services.source_image_store(
        data=photos.photo("img4.jpg"),
        source_label="City newsroom",
        page_url="https://news.example.org/story.html",
        image_url="https://news.example.org/p/4.jpg",
    ).image
    search_services.source_images_analyse(image_ids=[imported.pk, crawled.pk])
    search = SearchRequest.objects.create(
        organisation=owner.membership.organisation,
        user=owner,
        purpose="p",
        lawful_basis="public_task",
        case_reference="CASE-1",
        status="done",
    )
    SearchHit.objects.create(
        search=search, face=imported.faces.get(), distance=0.03, confidence=0.9, rank=1
    )
    req = submit(client, "access", selfie=photos.photo("img2.jpg"))
    verify(client)
    req = approve_all(SubjectRequest.objects.get(pk=req.pk), dpo)
    services.request_execute(request=req, actor=dpo)
    download = client.post(link(mail.outbox[-1], "package"))
    archive = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
    report, data = archive.read("report.html").decode(), archive.read("data.json").decode()
    for text in (report, data):
        assert (
            "file:" not in text and str(settings.MEDIA_ROOT) not in text and "sources/" not in text
        )
    images = {i["source"]: i for i in json.loads(data)["images"]}
    assert (
        images["Demo import"]["file_name"] == "holiday-2019.jpg"
        and images["Demo import"]["page_url"] == ""
    )
    assert images["City newsroom"]["page_url"] == "https://news.example.org/story.html"
    # Readable: styled inline (it is opened from a ZIP), print-friendly, dates in words.
    assert (
        "<style>" in report and "@media print" in report and '<link rel="stylesheet"' not in report
    )
    assert "holiday-2019.jpg" in report and 'href="https://news.example.org/story.html"' in report
    assert 'href=""' not in report  # no empty page link for an import
    assert timezone.localdate().strftime("%B") in report
    assert not re.search(r"\d{4}-\d{2}-\d{2}T", report)  # no raw ISO timestamps
    assert "Acme Investigations on " in report
