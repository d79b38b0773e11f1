"""Data-subject requests end to end, each right in turn, with the real model on the shared photos."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from compliance.models import AuditEvent
from search import services as search_services
from search.models import Face, SearchHit, SearchRequest, SourceImage
from subjects import services
from subjects.models import (
    AccessPackage,
    Candidate,
    OrganisationNotice,
    SubjectRequest,
    Suppression,
)
from tests.search import photos
from tests.subjects.requests_support import S, approve_all, link, submit, verify

pytestmark = pytest.mark.django_db(transaction=True)  # emails go out on commit


def test_selfie_finds_the_person_and_only_them(client, store):
    req = submit(client, "access", selfie=photos.photo("img2.jpg"))
    faces = set(req.candidates.filter(borderline=False).values_list("face_ref", flat=True))
    assert faces == {store["img1.jpg"].faces.get().pk}
    assert req.status == S.AWAITING_VERIFICATION
    assert req.due_date > timezone.localdate()
    assert req.template is None  # no consent: the selfie's template is not kept
    # The requester is pseudonymised in the audit log.
    events = AuditEvent.objects.filter(action__startswith="subjects.request.")
    assert events and all("person@example.net" not in json.dumps(e.details) for e in events)


def test_selfie_never_touches_the_disk(client, store, settings, tmp_path):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    big = io.BytesIO()
    image = Image.open(io.BytesIO(photos.photo("img2.jpg"))).convert("RGB")
    image.resize((image.width * 3, image.height * 3)).save(big, format="JPEG", quality=98)
    assert (
        len(big.getvalue()) > settings.FILE_UPLOAD_MAX_MEMORY_SIZE
    )  # Django would spill this to a temp file
    media_before = {p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()}
    req = submit(client, "erasure", selfie=big.getvalue())
    assert req.candidates.exists()
    assert list(tmp_path.iterdir()) == []
    assert {p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()} == media_before


def test_access_package_holds_exactly_the_persons_images(client, store, dpo, owner):
    # A repeat search held for the analyst's confirmation has hits stored but showed nobody anything:
    # it is not a recipient.
    held = SearchRequest.objects.create(
        organisation=owner.membership.organisation,
        user=owner,
        purpose="p",
        lawful_basis="public_task",
        case_reference="CASE-HELD",
        status="needs_confirmation",
    )
    SearchHit.objects.create(
        search=held, face=store["img1.jpg"].faces.get(), distance=0.03, confidence=0.9, rank=1
    )
    req = submit(client, "access", selfie=photos.photo("img2.jpg"))
    verify(client)
    req = approve_all(SubjectRequest.objects.get(pk=req.pk), dpo)
    services.request_execute(request=req, actor=dpo)
    page = client.get(
        link(mail.outbox[-1], "package")
    )  # a mail scanner's GET: a page, nothing counted
    assert page.status_code == 200 and b"Download my data" in page.content
    assert AccessPackage.objects.get().downloads == 0
    download = client.post(link(mail.outbox[-1], "package"))
    assert download.status_code == 200 and AccessPackage.objects.get().downloads == 1
    archive = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
    data = json.loads(archive.read("data.json"))
    mine = store["img1.jpg"]
    assert [i["image_url"] for i in data["images"]] == [mine.image_url]
    assert set(archive.namelist()) == {
        "data.json",
        "report.html",
        f"faces/{mine.faces.get().pk}.jpg",
    }
    assert [r["organisation"] for r in data["images"][0]["recipients"]] == ["Acme Investigations"]
    for key in (
        "purposes",
        "categories",
        "recipients",
        "retention",
        "rights",
        "automated_decisions",
    ):
        assert data[key]
    assert b"img3" not in archive.read("report.html")
    assert AuditEvent.objects.filter(action="subjects.request.package_downloaded").exists()
    # Expired links are refused and the package is deleted.
    package = AccessPackage.objects.get()
    AccessPackage.objects.filter(pk=package.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    assert client.get(link(mail.outbox[-1], "package")).status_code == 404
    assert client.post(link(mail.outbox[-1], "package")).status_code == 404
    assert services.access_packages_expire() == 1
    assert not (Path(settings.MEDIA_ROOT) / package.file.name).exists()


def test_erasure_removes_everything_and_tells_the_recipients(client, store, dpo, owner):
    mine, other = store["img1.jpg"], store["img3.jpg"]
    face_id = mine.faces.get().pk
    files = [
        Path(settings.MEDIA_ROOT) / mine.file.name,
        Path(settings.MEDIA_ROOT) / mine.faces.get().crop.name,
    ]
    req = submit(client, "erasure", selfie=photos.photo("img2.jpg"))
    verify(client)
    req = approve_all(SubjectRequest.objects.get(pk=req.pk), dpo)
    services.request_execute(request=req, actor=dpo)
    req.refresh_from_db()
    assert req.status == S.COMPLETED
    assert (
        not SourceImage.objects.filter(pk=mine.pk).exists()
        and not Face.objects.filter(pk=face_id).exists()
    )
    assert not SearchHit.objects.filter(face_id=face_id).exists()
    assert not any(p.exists() for p in files)
    assert SourceImage.objects.filter(pk=other.pk).exists()
    receipt = req.erasure_receipt
    assert (
        receipt.verified_clean
        and receipt.counts["images"] == 1
        and receipt.organisations_notified == ["Acme Investigations"]
    )
    assert OrganisationNotice.objects.filter(
        organisation=owner.membership.organisation, message__contains="CASE-9"
    ).exists()
    assert any(owner.email in m.to and "Erasure notice" in m.subject for m in mail.outbox)
    client.force_login(owner)
    assert b"Notices for your organisation" in client.get(reverse("home")).content
    assert Candidate.objects.get(request=req).face is None  # the record keeps the id only


def test_objection_erases_and_the_photo_is_refused_when_collected_again(client, store, dpo):
    req = submit(client, "objection", selfie=photos.photo("img2.jpg"), consent_keep_template="on")
    assert SubjectRequest.objects.get(pk=req.pk).template is not None
    verify(client)
    req = approve_all(SubjectRequest.objects.get(pk=req.pk), dpo)
    services.request_execute(request=req, actor=dpo)
    assert (
        Suppression.objects.filter(kind="image").exists()
        and Suppression.objects.filter(kind="template").exists()
    )
    again = search_services.source_image_store(
        data=photos.photo("img1.jpg"), source_label="re-import"
    )
    assert again.skipped == "suppressed" and again.image is None
    assert (
        SubjectRequest.objects.get(pk=req.pk).template is None
    )  # now only in the suppression list
    # A new, different photo of the same person is refused before anything is written (template).
    fresh = search_services.source_image_store(
        data=photos.photo("img4.jpg"), source_label="re-import"
    )
    assert fresh.skipped == "suppressed" and fresh.image is None


def test_restriction_hides_faces_and_lifting_tells_the_person_first(client, store, dpo):
    req = submit(client, "restriction", selfie=photos.photo("img2.jpg"))
    verify(client)
    req = approve_all(SubjectRequest.objects.get(pk=req.pk), dpo)
    services.request_execute(request=req, actor=dpo)
    face = store["img1.jpg"].faces.get()
    face.refresh_from_db()
    assert face.status == Face.Status.RESTRICTED
    sent = len(mail.outbox)
    services.restriction_lift(
        request=SubjectRequest.objects.get(pk=req.pk), actor=dpo, reason="legal claim ended"
    )
    assert len(mail.outbox) == sent + 1 and "lift the restriction" in mail.outbox[-1].body
    face.refresh_from_db()
    assert face.status == Face.Status.ACTIVE


def test_rectification_corrects_the_jurisdiction(client, store, dpo):
    req = submit(
        client,
        "rectification",
        selfie=photos.photo("img2.jpg"),
        correction="I live in Spain, not France",
    )
    verify(client)
    req = approve_all(SubjectRequest.objects.get(pk=req.pk), dpo)
    services.request_execute(request=req, actor=dpo, rectified_jurisdiction="es")
    assert store["img1.jpg"].faces.get().jurisdiction == "ES"
    assert SourceImage.objects.get(pk=store["img1.jpg"].pk).jurisdiction == "ES"


def test_complaint_is_acknowledged_and_tracked(client, db):
    req = submit(client, "complaint", details="You kept my photo after I asked")
    verify(client)
    req.refresh_from_db()
    assert req.acknowledged_at is not None and req.status == S.IN_REVIEW
    assert "acknowledges your complaint" in mail.outbox[-1].body
