"""The requester's side: links that change nothing on GET, the status page's timeline, answering a
clarification in the app, and selfies without a usable face. Real model on the shared photos."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from compliance.models import AuditEvent
from subjects import services
from subjects.models import Clarification, SubjectRequest, VerificationToken
from tests.search import photos
from tests.search.conftest import index_photos
from tests.subjects.requests_support import link, prove_identity, submit, verify

pytestmark = pytest.mark.django_db(transaction=True)  # emails go out on commit

S = SubjectRequest.Status


def _png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 180, 160)).save(out, format="PNG")
    return out.getvalue()


def test_get_on_the_emailed_links_changes_nothing(client, db):
    """A mail scanner GETs every link in the email: the request stays unconfirmed and open."""
    req = submit(client, "erasure")
    verify_path, status_path = link(mail.outbox[-1], "verify"), link(mail.outbox[-1], "requests")
    for _ in range(3):
        page = client.get(verify_path)
        assert (
            page.status_code == 200
            and b"Confirm my request" in page.content
            and b'method="post"' in page.content
        )
        assert client.get(status_path).status_code == 200
        assert client.get(status_path + "withdraw/").status_code == 200
    req.refresh_from_db()
    assert req.status == S.AWAITING_VERIFICATION and req.verified_at is None
    assert VerificationToken.objects.get(request=req).used_at is None
    assert not AuditEvent.objects.filter(
        action__in=["subjects.request.verified", "subjects.request.withdraw"]
    ).exists()
    # The button confirms, and a refresh of the page it lands on does not confirm again.
    response = client.post(verify_path)
    assert response.status_code == 302
    req.refresh_from_db()
    assert req.status == S.IN_REVIEW
    after = client.get(response["Location"])
    assert after.status_code == 200 and b"is confirmed" in after.content
    assert AuditEvent.objects.filter(action="subjects.request.verified").count() == 1


def test_every_email_points_to_the_status_page_never_to_reply(client, db, dpo):
    """No email may ask for a reply to an address nobody reads."""
    req = submit(client, "access")
    verify(client)
    req = services.request_transition(
        request=req, action="ask_clarification", actor=dpo, reason="Which site?"
    )
    services.request_extend(request=req, months=1, reason="Many sources", actor=dpo)
    status_path = link(mail.outbox[0], "requests")
    for message in mail.outbox:
        assert "reply" not in message.body.lower(), message.body
    clarification = next(m for m in mail.outbox if "need a detail" in m.subject)
    assert status_path in clarification.body and "Which site?" in clarification.body


def test_status_page_shows_a_timeline_in_words(client, db, dpo):
    """Received, confirmed, in review, waiting for you, extended with the reason, completed; dates in words."""
    req = submit(client, "complaint", details="You kept my photo")
    status_path = link(mail.outbox[-1], "requests")
    page = client.get(status_path).content.decode()
    assert "We received your request" in page and "Waiting for you to confirm" in page
    verify(client)
    req = services.request_transition(
        request=req, action="ask_clarification", actor=dpo, reason="Which photo?"
    )
    page = client.get(status_path).content.decode()
    assert "Waiting for your reply" in page and "Which photo?" in page and 'id="answer"' in page
    assert "requester" not in page  # worded for the person reading it
    token = status_path.split("/")[-2]
    client.post(
        reverse("subjects:answer", args=[req.reference, token]),
        {"answer": "The one on the news site"},
    )
    req = SubjectRequest.objects.get(pk=req.pk)
    req = services.request_extend(
        request=req, months=2, reason="Several sources to check", actor=dpo
    )
    req = services.request_transition(request=req, action="approve", actor=dpo)
    prove_identity(req, dpo)
    services.request_execute(request=req, actor=dpo)
    page = client.get(status_path).content.decode()
    for expected in (
        "We received your request",
        "You confirmed your email address",
        "reviewing it",
        "We asked you a question",
        "You answered",
        "We extended the deadline",
        "Several sources to check",
        "Completed",
        "We answered your complaint",
    ):
        assert expected in page, expected
    req.refresh_from_db()
    assert req.completed_at.strftime("%B") in page  # a month in words, not an ISO date
    assert not re.search(r"\d{4}-\d{2}-\d{2}", page)
    assert "Withdraw my request" not in page


def test_request_form_redirects_after_post(client, db):
    """Refreshing the page after sending must not file the request again."""
    response = client.post(reverse("subjects:request", args=["access"]), {"email": "p@example.net"})
    assert response.status_code == 302
    page = client.get(response["Location"])
    assert (
        page.status_code == 200
        and b"We received your request and sent a link to p@example.net" in page.content
    )
    client.get(response["Location"])
    assert SubjectRequest.objects.count() == 1


def test_clarification_is_answered_on_the_status_page_with_a_selfie(client, dpo):
    """No selfie at first, so nothing found; the DPO asks; the person answers with text, a link and a selfie;
    the clock resumes by itself, the selfie finds their photo, and the DPO sees the answer."""
    store = index_photos("img1.jpg", "img3.jpg")
    req = submit(client, "erasure")
    status_path = link(mail.outbox[-1], "requests")
    token = status_path.split("/")[-2]
    verify(client)
    assert not req.candidates.exists()
    client.force_login(dpo)
    question = "We found nothing: can you send a photo?"
    asked = client.post(
        reverse("subjects:detail", args=[req.reference]),
        {"action": "ask_clarification", "ask_clarification-reason": question},
    )
    assert asked.status_code == 302
    req.refresh_from_db()
    assert req.status == S.AWAITING_CLARIFICATION
    dpo_page = client.get(reverse("subjects:detail", args=[req.reference])).content.decode()
    assert (
        "Waiting for the requester&#x27;s reply" in dpo_page
        and "Waiting for your reply" not in dpo_page
    )
    SubjectRequest.objects.filter(pk=req.pk).update(paused_at=req.paused_at - timedelta(days=4))
    due = SubjectRequest.objects.get(pk=req.pk).due_date
    client.logout()
    answer_url = reverse("subjects:answer", args=[req.reference, token])
    # Nothing at all, and a photo without a face: clear errors, still waiting, nothing recorded.
    empty = client.post(answer_url, {"answer": " "})
    assert empty.status_code == 400 and b"Write your answer" in empty.content
    no_face = client.post(
        answer_url, {"answer": "here", "selfie": SimpleUploadedFile("x.png", photos.no_face_png())}
    )
    assert no_face.status_code == 400 and b"We found no face" in no_face.content
    assert SubjectRequest.objects.get(pk=req.pk).status == S.AWAITING_CLARIFICATION
    # A stranger's token cannot answer.
    assert (
        client.post(
            reverse("subjects:answer", args=[req.reference, "guess"]), {"answer": "x"}
        ).status_code
        == 404
    )
    response = client.post(
        answer_url,
        {
            "answer": "Here is a recent photo",
            "urls": "https://example.org/me.html",
            "selfie": SimpleUploadedFile("me.jpg", photos.photo("img2.jpg")),
        },
    )
    assert (
        response.status_code == 302 and response["Location"] == f"/rights/requests/{req.reference}/"
    )  # no secret
    req.refresh_from_db()
    assert req.status == S.IN_REVIEW and req.paused_at is None and req.paused_days == 4
    assert req.due_date == due + timedelta(days=4)
    mine = store["img1.jpg"].faces.get().pk
    assert set(req.candidates.values_list("face_ref", flat=True)) == {mine}
    assert req.candidates.get().found_by == "answer"
    answer = Clarification.objects.get(request=req)
    assert answer.answer == "Here is a recent photo" and answer.answer_urls == [
        "https://example.org/me.html"
    ]
    assert answer.answer_selfie_faces == 1 and answer.answer_candidates == 1
    actions = list(
        AuditEvent.objects.filter(target_id=str(req.pk)).values_list("action", flat=True)
    )
    assert (
        "subjects.request.clarification_answered" in actions
        and "subjects.request.resume" in actions
    )
    # A second answer is refused: the request no longer waits for one.
    again = client.post(answer_url, {"answer": "more"}, follow=True)
    assert (
        again.redirect_chain == [(f"/rights/requests/{req.reference}/", 302)]
        and b"not waiting for an answer" in again.content
    )
    assert Clarification.objects.get(request=req).answer == "Here is a recent photo"
    client.force_login(dpo)
    dpo_page = client.get(reverse("subjects:detail", args=[req.reference])).content.decode()
    assert "Here is a recent photo" in dpo_page and "1 new candidate found" in dpo_page


@pytest.mark.parametrize(
    ("image", "message"),
    [
        pytest.param(photos.no_face_png, b"We found no face", id="no-face-gradient"),
        pytest.param(lambda: _png(100_000, 10), b"We found no face", id="100000x10-png"),
        pytest.param(
            lambda: photos.photo("img2.jpg"), b"too small", id="face-below-the-minimum-size"
        ),
    ],
)
def test_selfie_without_a_usable_face_is_refused_on_the_form(client, db, settings, image, message):
    """Never filed silently: the person is told on the form, and no request is stored."""
    if message == b"too small":
        settings.FACE_MIN_SIZE_PX = 5000  # every real face is then under the minimum
    response = client.post(
        reverse("subjects:request", args=["erasure"]),
        {"email": "a@example.net", "selfie": SimpleUploadedFile("me.png", image())},
    )
    assert response.status_code == 400 and message in response.content
    assert not SubjectRequest.objects.exists() and not mail.outbox


def test_status_link_in_later_emails_opens_the_page_of_older_requests(client, db, dpo):
    """A request filed with a random status secret (before secrets were derived) is reachable from later emails,
    and a guessed token still gives 404."""
    req = submit(client, "access")
    SubjectRequest.objects.filter(pk=req.pk).update(status_token_hash="0" * 64)
    verify(client)
    status_path = link(mail.outbox[-1], "requests")  # the "we have your request" email
    assert client.get(status_path).status_code == 200
    assert client.get(reverse("subjects:status", args=[req.reference, "0" * 40])).status_code == 404


def test_an_oversized_photo_with_an_answer_gets_a_message_not_an_error(client, db, dpo):
    """12 MB (over SUBJECT_SELFIE_MAX_BYTES): refused with the limit named; the request still waits for an answer."""
    req = submit(client, "access")
    status_path = link(mail.outbox[-1], "requests")
    verify(client)
    services.request_transition(
        request=req, action="ask_clarification", actor=dpo, reason="Which site?"
    )
    response = client.post(
        status_path + "answer/",
        {"answer": "x", "selfie": SimpleUploadedFile("big.jpg", photos.huge_jpeg(12))},
    )
    assert (
        response.status_code == 413
        and b"too large" in response.content
        and b"Which site?" in response.content
    )
    assert SubjectRequest.objects.get(pk=req.pk).status == S.AWAITING_CLARIFICATION
    assert not Clarification.objects.filter(request=req, answered_at__isnull=False).exists()
