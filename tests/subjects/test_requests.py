"""Data-subject requests end to end, with the real model on the shared photos."""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
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
from tests.search.conftest import index_photos

pytestmark = pytest.mark.django_db(transaction=True)  # emails go out on commit

S = SubjectRequest.Status


@pytest.fixture
def store(owner):
    """img1 (the requester) and img3 (someone else) indexed; owner's org saw img1 in a search."""
    images = index_photos("img1.jpg", "img3.jpg")
    search = SearchRequest.objects.create(
        organisation=owner.membership.organisation,
        user=owner,
        purpose="p",
        lawful_basis="public_task",
        case_reference="CASE-9",
        status="done",
    )
    SearchHit.objects.create(
        search=search, face=images["img1.jpg"].faces.get(), distance=0.03, confidence=0.9, rank=1
    )
    return images


def link(message, name: str) -> str:
    match = re.search(r"https?://[^/\s]+(/rights/" + name + r"/[^\s]+/)", message.body)
    assert match, message.body
    return match.group(1)


def submit(client, kind: str, *, selfie: bytes | None = None, **data) -> SubjectRequest:
    payload = {"email": "person@example.net", **data}
    if selfie is not None:
        payload["selfie"] = SimpleUploadedFile("me.jpg", selfie, content_type="image/jpeg")
    response = client.post(reverse("subjects:request", args=[kind]), payload)
    assert response.status_code == 302, response.content.decode()[
        :1500
    ]  # redirect after POST: no resubmit on refresh
    req = SubjectRequest.objects.latest("received_at")
    assert response["Location"].startswith(f"/rights/requests/{req.reference}/")
    return req


def verify(client) -> None:
    path = link(mail.outbox[-1], "verify")
    assert client.get(path).status_code == 200  # a page with a button; GET changes nothing
    response = client.post(path)
    assert (
        response.status_code == 302 and response["Location"] == "/rights/verify/"
    )  # token-free: the secret is in a cookie


def prove_identity(req: SubjectRequest, dpo, *, accepted: bool = True, method: str = "video_call"):
    """The DPO records that the requester was shown to be the person (a video call by default): the step that
    releases the second tier and lets erasure, objection and restriction be carried out (issue 22)."""
    from subjects.identity import identity_proof_record

    return identity_proof_record(
        request=req, method=method, accepted=accepted, actor=dpo, note="checked on a video call"
    )


def approve_all(req: SubjectRequest, dpo, *, prove: bool = True) -> SubjectRequest:
    """Confirm the strict candidates and approve; by default also record an accepted identity proof, as the tests
    that use this are about what carrying out does, not about the proof."""
    for candidate in req.candidates.filter(borderline=False):
        services.candidate_decide(candidate=candidate, confirm=True, actor=dpo)
    if prove:
        prove_identity(req, dpo)
    return services.request_transition(request=req, action="approve", actor=dpo)


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


def test_links_are_single_use_and_expire(client, db):
    submit(client, "access")
    path = link(mail.outbox[-1], "verify")
    assert client.post(path).status_code == 302
    assert client.post(path).status_code == 404  # reused
    submit(client, "access", email="other@example.net")
    from subjects.models import VerificationToken

    VerificationToken.objects.filter(used_at__isnull=True).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert client.get(link(mail.outbox[-1], "verify")).status_code == 404  # expired
    assert client.post(link(mail.outbox[-1], "verify")).status_code == 404


def test_another_persons_request_gives_404(client, db):
    submit(client, "access")
    status_path = link(mail.outbox[-1], "requests")
    assert client.get(status_path).status_code == 200
    reference = SubjectRequest.objects.get().reference
    assert (
        client.get(reverse("subjects:status", args=[reference, "guessed-token"])).status_code == 404
    )
    assert client.get(reverse("subjects:status", args=["R-00000000", "x"])).status_code == 404


def test_requester_can_withdraw(client, db):
    req = submit(client, "erasure")
    status_path = link(mail.outbox[-1], "requests")
    confirm = client.get(status_path + "withdraw/")
    assert confirm.status_code == 200 and b"Are you sure" in confirm.content
    assert SubjectRequest.objects.get().status == S.AWAITING_VERIFICATION  # asking changes nothing
    response = client.post(status_path + "withdraw/")
    assert (
        response.status_code == 302 and response["Location"] == f"/rights/requests/{req.reference}/"
    )  # no secret
    assert SubjectRequest.objects.get().status == S.WITHDRAWN
    page = client.get(status_path).content.decode()
    assert "You withdrew your request" in page and "Withdraw my request" not in page


def test_illegal_transitions_and_missing_reasons_are_refused(client, db, dpo):
    from django.core.exceptions import ValidationError

    req = submit(client, "erasure")
    with pytest.raises(ValidationError):
        services.request_transition(request=req, action="approve", actor=dpo)  # not verified yet
    verify(client)
    with pytest.raises(ValidationError, match="reason"):
        services.request_transition(request=req, action="deny", actor=dpo, reason="  ")
    with pytest.raises(ValidationError):
        services.request_execute(request=req, actor=dpo)  # not approved
    services.request_transition(
        request=req, action="deny", actor=dpo, reason="Manifestly unfounded: a test"
    )
    assert "complain to" in mail.outbox[-1].body
    with pytest.raises(ValidationError):
        services.request_transition(request=req, action="approve", actor=dpo)


def test_clarification_pauses_and_extension_is_told_in_time(client, db, dpo):
    req = submit(client, "access")
    verify(client)
    services.request_transition(
        request=req, action="ask_clarification", actor=dpo, reason="Which website?"
    )
    SubjectRequest.objects.filter(pk=req.pk).update(paused_at=timezone.now() - timedelta(days=3))
    due = SubjectRequest.objects.get(pk=req.pk).due_date
    req = services.request_transition(request=req, action="resume", actor=dpo)
    assert req.due_date == due + timedelta(days=3) and req.paused_days == 3
    assert not req.clarifications.filter(
        answered_at__isnull=True
    ).exists()  # closed: not shown as still waiting
    req = services.request_extend(
        request=req, months=2, reason="Many photos across sources", actor=dpo
    )
    assert req.extended and "Many photos" in mail.outbox[-1].body
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="already"):
        services.request_extend(request=req, months=1, reason="again", actor=dpo)
    late = submit(client, "access", email="late@example.net")
    SubjectRequest.objects.filter(pk=late.pk).update(
        original_due_date=timezone.localdate() - timedelta(days=1)
    )
    with pytest.raises(ValidationError, match="Too late"):
        services.request_extend(request=late, months=1, reason="x", actor=dpo)
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {
        "subjects.request.ask_clarification",
        "subjects.request.resume",
        "subjects.request.extended",
    } <= actions


def test_unverified_requests_lapse_with_a_notice(client, db):
    req = submit(client, "access")
    SubjectRequest.objects.filter(pk=req.pk).update(received_at=timezone.now() - timedelta(days=30))
    assert services.requests_lapse() == 1
    assert SubjectRequest.objects.get(pk=req.pk).status == S.LAPSED
    assert "not confirmed" in mail.outbox[-1].body


def test_honeypot_and_rate_limit(client, db, settings):
    response = client.post(
        reverse("subjects:request", args=["access"]),
        {"email": "bot@example.net", "website": "spam"},
    )
    assert response.status_code == 302 and not SubjectRequest.objects.exists()
    settings.SUBJECT_REQUESTS_PER_EMAIL_PER_HOUR = 2
    for _ in range(2):
        submit(client, "access", email="same@example.net")
    third = client.post(reverse("subjects:request", args=["access"]), {"email": "same@example.net"})
    assert third.status_code == 429 and SubjectRequest.objects.count() == 2


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@example.net", "urls": "javascript:alert(1)"}, "urls"),
    ],
)
def test_malformed_forms_are_refused(client, db, data, field):
    response = client.post(reverse("subjects:request", args=["erasure"]), data)
    assert response.status_code == 400
    assert not SubjectRequest.objects.exists()


def test_bad_selfie_gets_a_message_and_nothing_is_stored(client, db):
    response = client.post(
        reverse("subjects:request", args=["access"]),
        {"email": "a@example.net", "selfie": SimpleUploadedFile("me.svg", photos.SVG)},
    )
    assert response.status_code == 400 and b"SVG" in response.content
    assert not SubjectRequest.objects.exists()


def test_notice_is_generated_from_live_configuration(client, db, dpo):
    from compliance.retention import retention_policies_ensure
    from crawling import services as crawl

    retention_policies_ensure()
    source = crawl.source_add(
        name="City newsroom",
        scope=["https://news.example.fr/"],
        jurisdictions=["FR"],
        lawful_basis="legitimate_interests",
        art9_condition="manifestly_public",
        dpia_reference="D-1",
    )
    crawl.source_approve(source=source, actor=dpo)
    page = client.get(reverse("subjects:notice")).content.decode()
    for expected in (
        "City newsroom",
        "Faces and embeddings: 365 days",
        "Your right to object",
        settings.DPO_EMAIL,
    ):
        assert expected in page, expected


def test_dpo_queue_is_for_the_dpo_and_sorted_by_due_date(client, db, dpo, teammate):
    first = submit(client, "access", email="a@example.net")
    second = submit(client, "erasure", email="b@example.net")
    SubjectRequest.objects.filter(pk=second.pk).update(
        due_date=timezone.localdate() - timedelta(days=2)
    )
    client.force_login(teammate)
    assert client.get(reverse("subjects:queue")).status_code == 403
    assert client.get(reverse("subjects:detail", args=[first.reference])).status_code == 403
    client.force_login(dpo)
    page = client.get(reverse("subjects:queue")).content.decode()
    assert page.index(second.reference) < page.index(first.reference)
    assert 'class="overdue"' in page
    assert (
        services.dpo_digest() == 1 and "1 overdue, 0 due within 7 days" in mail.outbox[-1].subject
    )
    detail = client.get(reverse("subjects:detail", args=[first.reference]))
    assert detail.status_code == 200


def test_dpo_confirms_candidates_on_the_detail_page(client, store, dpo):
    req = submit(client, "erasure", selfie=photos.photo("img2.jpg"))
    verify(client)
    candidate = req.candidates.first()
    client.force_login(dpo)
    assert (
        client.get(
            reverse("subjects:candidate_thumbnail", args=[req.reference, candidate.pk])
        ).status_code
        == 200
    )
    client.post(
        reverse("subjects:detail", args=[req.reference]),
        {"action": "confirm", "candidate": candidate.pk},
    )
    candidate.refresh_from_db()
    assert candidate.status == Candidate.Status.CONFIRMED
    client.post(reverse("subjects:detail", args=[req.reference]), {"action": "approve"})
    prove_identity(req, dpo)
    client.post(reverse("subjects:detail", args=[req.reference]), {"action": "execute"})
    assert SubjectRequest.objects.get(pk=req.pk).status == S.COMPLETED


def test_retention_anonymises_old_closed_requests(client, db):
    from compliance import retention

    retention.retention_policies_ensure()
    old = submit(client, "erasure", email="old@example.net", details="my name is Jo")
    SubjectRequest.objects.filter(pk=old.pk).update(
        status=S.COMPLETED, received_at=timezone.now() - timedelta(days=2000)
    )
    recent = submit(client, "erasure", email="new@example.net")
    SubjectRequest.objects.filter(pk=recent.pk).update(status=S.COMPLETED)
    receipt = retention.retention_sweep(data_class="subject_requests")
    assert receipt.affected == 1
    old.refresh_from_db()
    assert "old@example.net" not in old.email and old.details == "" and old.status == S.COMPLETED
    assert SubjectRequest.objects.get(pk=recent.pk).email == "new@example.net"
    assert retention.retention_sweep(data_class="subject_requests").affected == 0
