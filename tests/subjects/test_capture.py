"""The live camera capture, end to end through the pages and the service (subjects/capture.py,
subjects/capture_views.py): the real face model on synthetic captures (tests/search/liveness_frames.py
says what a synthetic capture stands for), the real cache (nonces), database and storage.

The setting: person01's photos img2.jpg and img4.jpg are indexed (with person02's img3.jpg); the requester
files an access request with a selfie of person01 (img5.jpg), confirms the email, and the DPO confirms
the candidates. The requester then opens the capture page from the status page (the status cookie is
what lets them in), reads the challenge from it, and sends frames.
"""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta
from random import Random

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from compliance.models import AuditEvent
from subjects import capture, services
from subjects.identity import identity_proven
from subjects.models import Candidate, IdentityProof, LiveCapture, SubjectRequest
from tests.search import liveness_frames as frames_
from tests.search import photos
from tests.search.conftest import index_photos
from tests.subjects.requests_support import submit, verify

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def requester(client, dpo, settings) -> SubjectRequest:
    """An access request by person01 (selfie img5.jpg) whose candidates (img2, img4) the DPO confirmed."""
    settings.CAPTURE_TEST_CHALLENGE_SEED = (
        7  # a fixed challenge: the genuine capture follows it exactly
    )
    index_photos("img2.jpg", "img4.jpg", "img3.jpg")
    req = submit(client, "access", selfie=photos.photo("img5.jpg"))
    verify(client)
    for candidate in req.candidates.filter(borderline=False):
        services.candidate_decide(candidate=candidate, confirm=True, actor=dpo)
    req = SubjectRequest.objects.get(pk=req.pk)
    assert req.candidates.filter(status=Candidate.Status.CONFIRMED).count() >= 2
    return req


def open_page(client, req) -> tuple[str, list[str], str]:
    """The capture page, as the requester's browser opens it: (nonce, the asked steps, the page's HTML)."""
    status_page = client.get(reverse("subjects:status_page", args=[req.reference]))
    assert status_page.status_code == 200
    link = reverse("subjects:capture_page", args=[req.reference])
    assert link in status_page.content.decode(), "the status page links to the capture page"
    response = client.get(link)
    assert response.status_code == 200 and response["Cache-Control"] == "private, no-store"
    page = response.content.decode()
    nonce = re.search(r'name="nonce" value="([^"]+)"', page).group(1)
    poses = re.findall(r'data-pose="([a-z]+)"', page)
    assert poses[0] == "neutral"
    return nonce, [p for p in poses[1:] if p != "neutral"], page


def send(client, req, nonce: str, frames: list[bytes], *, times: list[float] | None = None):
    if times is None:
        start = time.time() - 0.5
        times = [start + 0.05 * i for i in range(len(frames))]
    uploads = [
        SimpleUploadedFile(f"frame{i + 1}.jpg", f, content_type="image/jpeg")
        for i, f in enumerate(frames)
    ]
    return client.post(
        reverse("subjects:capture_submit", args=[req.reference]),
        {"nonce": nonce, "frame": uploads, "captured_at": json.dumps(times)},
    )


def stored_bytes(cap: LiveCapture) -> bytes:
    with default_storage.open(cap.frames_name, "rb") as fh:
        return fh.read()


def test_a_genuine_capture_is_stored_encrypted_and_the_dpos_acceptance_records_the_proof_and_deletes_the_frames(
    client, dpo, requester
):
    """Input: a synthetic genuine capture of person01 built from img1.jpg (a photo not in the index: the
    person at their webcam), following the page's challenge exactly. Then the DPO reviews and accepts."""
    req = requester
    nonce, steps, page = open_page(client, req)
    assert (
        "Turn your head" in page or "Look up" in page or "Look down" in page
    )  # the challenge in words
    frames = frames_.genuine("img1.jpg", steps, Random(11), holds=False)
    response = send(client, req, nonce, frames)
    assert response.status_code == 200, response.content
    answer = response.json()["message"]
    assert "received" in answer and "verified" not in answer.lower()
    cap = LiveCapture.objects.get(request=req)
    assert cap.passed, cap.report
    assert cap.reference_count >= 2 and any(
        c["name"] == "reference_match" and c["passed"] for c in cap.checks
    )
    assert cap.challenge["steps"] == steps and "nonce" not in cap.challenge
    assert nonce not in json.dumps(cap.report)
    # Stored encrypted: one object, not a JPEG, no frame's bytes inside it; it decrypts to the frames.
    blob = stored_bytes(cap)
    assert not blob.startswith(b"\xff\xd8") and b"JFIF" not in blob
    assert all(f[:64] not in blob for f in frames)
    assert capture.frames_unpack(blob) == frames
    assert cap.delete_by == req.due_date
    # The capture alone releases nothing.
    assert (
        not identity_proven(request=req) and not IdentityProof.objects.filter(request=req).exists()
    )
    events = AuditEvent.objects.filter(action__startswith="subjects.capture.")
    assert [e.action for e in events] == ["subjects.capture.submitted"]
    # The DPO sees the frames (decrypted, never cached) beside the candidates, and the checks.
    staff = Client()
    staff.force_login(dpo)
    detail = staff.get(reverse("subjects:detail", args=[req.reference])).content.decode()
    assert 'id="live-captures"' in detail and "every automated check passed" in detail
    assert "reference_match" in detail and "pose_sequence" in detail
    frame = staff.get(reverse("subjects:capture_frame", args=[req.reference, cap.pk, 0]))
    assert (
        frame.status_code == 200
        and frame.content == frames[0]
        and frame["Cache-Control"] == "private, no-store"
    )
    # Accept: the identity proof is recorded, the frames are gone at once, with a receipt.
    decided = staff.post(
        reverse("subjects:capture_decide", args=[req.reference, cap.pk]), {"decision": "accept"}
    )
    assert decided.status_code == 302
    proof = IdentityProof.objects.get(request=req)
    assert proof.method == "live_capture" and proof.accepted and proof.decided_by == dpo
    assert proof.evidence["passed"] is True and proof.evidence["capture"] == cap.pk
    assert identity_proven(request=req)
    cap.refresh_from_db()
    assert cap.decision == "accepted" and cap.deleted_at is not None
    assert not default_storage.exists(cap.frames_name)
    receipt = AuditEvent.objects.get(action="subjects.capture.deleted").details
    assert (
        receipt["sha256"] == cap.frames_sha256
        and receipt["objects"] == 1
        and receipt["gone"] is True
    )
    assert receipt["frames"] == len(frames)
    assert (
        staff.get(reverse("subjects:capture_frame", args=[req.reference, cap.pk, 0])).status_code
        == 404
    )
    # Once proven, the page offers no new capture.
    assert client.get(reverse("subjects:capture_page", args=[req.reference])).status_code == 409


def _stale(client, req, nonce, steps):
    """The page's challenge, made 16 minutes old (as if the page had been left open), then genuine frames."""
    key = capture._challenge_key(req.reference, nonce)
    data = capture.cache.get(key)
    data["issued_at"] -= 1000
    data["expires_at"] -= 1000
    capture.cache.set(key, data, timeout=3600)
    return send(client, req, nonce, frames_.genuine("img1.jpg", steps, Random(11), holds=False))


def _reused(client, req, nonce, steps):
    """A genuine capture sent, then the same nonce and frames sent again (a replayed submission)."""
    frames = frames_.genuine("img1.jpg", steps, Random(11), holds=False)
    assert send(client, req, nonce, frames).status_code == 200
    return send(client, req, nonce, frames)


ATTACKS = [
    pytest.param(
        lambda c, r, n, s: send(c, r, n, frames_.replayed_still("img1.jpg", len(s) + 2, Random(3))),
        "replayed_still",
        id="flagged × still photo of person01 (img1) replayed for every frame",
    ),
    pytest.param(
        lambda c, r, n, s: send(
            c,
            r,
            n,
            frames_.different_photos(["img1.jpg", "img2.jpg", "img4.jpg", "img5.jpg"], Random(4)),
        ),
        "background_changed",
        id="flagged × four different photos of person01 (img1, img2, img4, img5)",
    ),
    pytest.param(
        lambda c, r, n, s: send(c, r, n, frames_.two_people("img1.jpg", "img3.jpg", s, Random(6))),
        "identity_changed",
        id="flagged × person01 (img1) and person02 (img3) alternating, posing as asked",
    ),
    pytest.param(
        _stale, "stale_challenge", id="flagged × genuine frames sent for a challenge 16 minutes old"
    ),
    pytest.param(
        _reused, "nonce_invalid", id="flagged × a genuine submission replayed with its used nonce"
    ),
]


@pytest.mark.parametrize(("attack", "flag"), ATTACKS)
def test_each_attack_is_flagged_stored_with_its_flag_and_releases_nothing(
    client, requester, attack, flag
):
    req = requester
    nonce, steps, _ = open_page(client, req)
    response = attack(client, req, nonce, steps)
    assert response.status_code == 200  # the person is told it was received; the DPO sees the flags
    cap = LiveCapture.objects.filter(request=req).order_by("-pk").first()
    assert not cap.passed and flag in cap.flags, cap.report
    assert cap.frames_held and not stored_bytes(cap).startswith(b"\xff\xd8")
    failed = AuditEvent.objects.filter(action="subjects.capture.failed").order_by("-pk").first()
    assert (
        failed is not None
        and failed.details["capture"] == cap.pk
        and flag in failed.details["flags"]
    )
    assert failed.target_id == str(req.pk) and failed.target_type.endswith("subjectrequest")
    assert not IdentityProof.objects.filter(request=req).exists() and not identity_proven(
        request=req
    )


def test_a_stranger_without_the_status_cookie_gets_404(client, requester):
    """Input: a fresh browser (no status cookie) opening the capture page and posting frames for the reference."""
    req = requester
    stranger = Client()
    assert stranger.get(reverse("subjects:capture_page", args=[req.reference])).status_code == 404
    frames = frames_.replayed_still("img1.jpg", 4, Random(3))
    response = send(stranger, req, "x" * 32, frames)
    assert response.status_code == 404
    assert not LiveCapture.objects.exists()


def test_an_unknown_nonce_is_refused_and_attempts_are_limited_per_request(
    client, requester, settings
):
    """Input: frames sent with a nonce the server never issued; then, with one attempt a day allowed,
    a second capture on the same day."""
    req = requester
    settings.CAPTURE_ATTEMPTS_PER_DAY = 1
    frames = frames_.replayed_still("img1.jpg", 4, Random(3))
    assert send(client, req, "never-issued-" + "x" * 20, frames).status_code == 400
    assert not LiveCapture.objects.exists()
    nonce, _, _ = open_page(client, req)
    assert send(client, req, nonce, frames).status_code == 200
    nonce, _, _ = open_page(client, req)
    assert send(client, req, nonce, frames).status_code == 429
    assert LiveCapture.objects.filter(request=req).count() == 1


def test_the_sweep_deletes_an_undecided_capture_past_the_due_date(client, requester):
    """Input: a capture (a replayed still) the DPO never decided, its request's due date now past."""
    req = requester
    nonce, _, _ = open_page(client, req)
    send(client, req, nonce, frames_.replayed_still("img1.jpg", 4, Random(3)))
    cap = LiveCapture.objects.get(request=req)
    assert default_storage.exists(cap.frames_name)
    assert capture.captures_sweep() == 0  # not due yet
    LiveCapture.objects.filter(pk=cap.pk).update(delete_by=timezone.localdate() - timedelta(days=1))
    assert capture.captures_sweep() == 1
    cap.refresh_from_db()
    assert (
        cap.deleted_at is not None
        and not default_storage.exists(cap.frames_name)
        and cap.decision == ""
    )
    receipt = AuditEvent.objects.get(action="subjects.capture.deleted").details
    assert receipt["reason"] == "due date passed" and receipt["sha256"] == cap.frames_sha256
    assert capture.captures_sweep() == 0


@pytest.mark.parametrize(
    ("language", "title", "no_camera"),
    [
        ("fr", "Montrez-nous que c'est bien vous", "un court appel vidéo"),
        ("it", "Ci mostri che è lei", "una breve videochiamata"),
        ("nl", "Laat ons met uw camera zien", "een kort videogesprek"),
        ("de", "Zeigen Sie uns mit Ihrer Kamera", "ein kurzes Videogespräch"),
    ],
)
def test_the_capture_page_speaks_the_visitors_language(
    client, requester, language, title, no_camera
):
    """Input: the requester's browser asks for the page with Accept-Language set to each public language."""
    req = requester
    response = client.get(
        reverse("subjects:capture_page", args=[req.reference]), HTTP_ACCEPT_LANGUAGE=language
    )
    page = response.content.decode()
    from html import unescape

    page = unescape(page)
    assert title in page and no_camera in page
    for english in (
        "Show us it is you",
        "Turn your head to your",
        "Look straight at the camera",
        "No camera, or you would",
        "Open my camera and start",
        "We could not open a camera",
    ):
        assert english not in page, (language, english)


def test_the_dpo_can_refuse_and_only_the_dpo_sees_or_decides(client, dpo, teammate, requester):
    """Input: a capture made of two people (person01 img1 and person02 img3 alternating); a customer's
    analyst (no DPO permission) tries to open a frame and to accept it; the DPO refuses it."""
    req = requester
    nonce, steps, _ = open_page(client, req)
    send(client, req, nonce, frames_.two_people("img1.jpg", "img3.jpg", steps, Random(6)))
    cap = LiveCapture.objects.get(request=req)
    analyst = Client()
    analyst.force_login(teammate)
    assert (
        analyst.get(reverse("subjects:capture_frame", args=[req.reference, cap.pk, 0])).status_code
        == 403
    )
    decide = reverse("subjects:capture_decide", args=[req.reference, cap.pk])
    assert analyst.post(decide, {"decision": "accept"}).status_code == 403
    with pytest.raises(PermissionDenied):
        capture.capture_decide(capture=cap, accepted=True, actor=teammate)
    assert not IdentityProof.objects.exists() and default_storage.exists(cap.frames_name)
    staff = Client()
    staff.force_login(dpo)
    staff.post(
        reverse("subjects:capture_decide", args=[req.reference, cap.pk]), {"decision": "refuse"}
    )
    proof = IdentityProof.objects.get(request=req)
    assert (
        proof.method == "live_capture"
        and not proof.accepted
        and "identity_changed" in proof.evidence["flags"]
    )
    assert not identity_proven(request=req)
    cap.refresh_from_db()
    assert (
        cap.decision == "refused"
        and cap.deleted_at is not None
        and not default_storage.exists(cap.frames_name)
    )
    # A decided capture is not decided twice.
    again = staff.post(
        reverse("subjects:capture_decide", args=[req.reference, cap.pk]),
        {"decision": "accept"},
        follow=True,
    )
    assert (
        b"already decided" in again.content
        and IdentityProof.objects.filter(request=req).count() == 1
    )


def test_without_a_confirmed_candidate_the_report_says_the_face_was_not_compared(
    client, dpo, settings
):
    """Input: a genuine capture of person01 (img1.jpg) on a request whose candidates the DPO has not confirmed yet."""
    settings.CAPTURE_TEST_CHALLENGE_SEED = 7
    index_photos("img2.jpg", "img4.jpg")
    req = submit(client, "access", selfie=photos.photo("img5.jpg"))
    verify(client)
    nonce, steps, _ = open_page(client, req)
    assert (
        send(
            client, req, nonce, frames_.genuine("img1.jpg", steps, Random(11), holds=False)
        ).status_code
        == 200
    )
    cap = LiveCapture.objects.get(request=req)
    assert cap.reference_count == 0 and "reference_note" in cap.report
    assert all(c["name"] != "reference_match" for c in cap.checks)
    staff = Client()
    staff.force_login(dpo)
    page = staff.get(reverse("subjects:detail", args=[req.reference])).content.decode()
    assert "the live face was not compared with any photo" in page


def test_production_refuses_to_start_without_a_capture_key():
    """Input: otherwise valid production settings with no CAPTURE_ENCRYPTION_KEY, then a malformed one, then a real one."""
    from django.core.exceptions import ImproperlyConfigured

    from config.settings import check_production_settings

    good = {
        "debug": False,
        "production": True,
        "secret_key": "k" * 60,
        "allowed_hosts": ["example.org"],
        "site_url": "https://example.org",
        "controller_name": "Controller Ltd",
        "controller_address": "2 Real Road",
        "email_url": "smtp://mail.example.org:587",
    }
    for key in ("", "not-a-key"):
        with pytest.raises(ImproperlyConfigured, match="CAPTURE_ENCRYPTION_KEY"):
            check_production_settings(**good, capture_encryption_key=key)
    from cryptography.fernet import Fernet

    check_production_settings(**good, capture_encryption_key=Fernet.generate_key().decode())
