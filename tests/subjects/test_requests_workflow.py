"""Data-subject requests end to end, their workflow: links, transitions, deadlines, bad input, the
notice, the DPO's queue and retention, with the real model on the shared photos."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from compliance.models import AuditEvent
from subjects import services
from subjects.models import Candidate, SubjectRequest
from tests.search import photos
from tests.subjects.requests_support import S, link, prove_identity, submit, verify

pytestmark = pytest.mark.django_db(transaction=True)  # emails go out on commit


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
