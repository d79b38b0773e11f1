"""Abuse signals on the rights portal (issue 22 item 5), with the real services and the real face model.

The shared photos: img1, img4 (person01), img3, img12 (person02), img8, img9 (person03). Each test says what it
indexed and which selfies the requests carry. A signal's evidence, its audit event and the DPO's alert must hold
request references, pseudonyms and counts only: no crop, no embedding, no face id, no address in clear.
"""

from __future__ import annotations

import json

import pytest
from django.core import mail
from django.urls import reverse

from compliance.models import AuditEvent
from compliance.services import audit_record, subject_pseudonym
from subjects import abuse, services
from subjects.abuse import email_normalise
from subjects.models import AbuseSignal, SubjectRequest
from tests.search import photos
from tests.search.conftest import index_photos
from tests.subjects.requests_support import submit

pytestmark = pytest.mark.django_db(transaction=True)  # alerts go out on commit

K = AbuseSignal.Kind


def _file(email: str, selfie: str | None = None, kind: str = "access") -> SubjectRequest:
    request, _ = services.request_submit(
        type=kind,
        email=email,
        selfie=photos.photo(selfie) if selfie else None,
        ip="198.51.100.7",
        details="" if selfie else "my photos",
    )
    return request


def _faceless(signal: AbuseSignal, emails: list[str]) -> None:
    """Nothing in the signal, its audit events or the DPO's alert shows a face or an address."""
    texts = [json.dumps(signal.evidence)]
    texts += [
        json.dumps(e.details)
        for e in AuditEvent.objects.filter(action__startswith="subjects.abuse.")
    ]
    texts += [m.body + m.subject for m in mail.outbox if "Abuse signal" in m.subject]
    for text in texts:
        for word in ("embedding", "crop", "thumbnail", ".jpg", "face_ref", "face_id", "faces/"):
            assert word not in text
        for email in emails:
            assert email not in text and email.split("@")[0] not in text
    # The evidence's fields: references, pseudonyms, counts and thresholds only.
    allowed = {
        "requests",
        "request",
        "addresses",
        "address",
        "address_count",
        "faces_in_common",
        "face_sets",
        "variants",
        "variant_pseudonyms",
        "failures",
        "threshold",
    }
    assert set(signal.evidence) <= allowed


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        pytest.param("Victim@Example.org", "victim@example.org", id="case"),
        pytest.param("victim+1@example.org", "victim@example.org", id="plus-tag"),
        pytest.param("v.ic.tim+x@googlemail.com", "victim@gmail.com", id="gmail-dots-and-domain"),
        pytest.param("v.ictim@example.org", "v.ictim@example.org", id="dots-kept-elsewhere"),
    ],
)
def test_email_normalise(raw, normal):
    """Input: address forms of one mailbox. Output: the one form the limits and signals use."""
    assert email_normalise(raw) == normal


def test_plus_tag_and_case_variants_count_as_one_address_for_the_rate_limit(settings):
    """Input: a limit of 2 requests per address per hour; requests from victim@x, then Victim+1@x (one mailbox),
    then victim+2@x. The third is refused although each raw string is new; another mailbox is not affected."""
    settings.SUBJECT_REQUESTS_PER_EMAIL_PER_HOUR = 2
    _file("victim@example.org")
    _file("Victim+1@example.org")
    with pytest.raises(services.RequestRefused):
        _file("victim+2@example.org")
    assert SubjectRequest.objects.count() == 2
    _file("someone.else@example.org")


def test_one_face_from_several_addresses(settings):
    """Input: img1 (person01) indexed; requests from alice.s@example.net and bobby.k@example.com, each with the selfie img2
    (person01): their candidates point at the same face. A shared_face signal holds both references and both
    addresses' pseudonyms; the DPO is emailed; the control (one address twice for the same face) raises none."""
    face = index_photos("img1.jpg")["img1.jpg"].faces.get()
    first = _file("alice.s@example.net", "img2.jpg")
    again = _file("alice.s@example.net", "img2.jpg")
    assert (
        first.candidates.filter(face_ref=face.pk).exists()
        and again.candidates.filter(face_ref=face.pk).exists()
    )
    assert not AbuseSignal.objects.filter(
        kind=K.SHARED_FACE
    ).exists()  # one address twice: no signal
    second = _file("bobby.k@example.com", "img2.jpg")
    signal = AbuseSignal.objects.get(kind=K.SHARED_FACE)
    assert set(signal.evidence["requests"]) == {first.reference, again.reference, second.reference}
    assert signal.evidence["address_count"] == 2 and signal.evidence["faces_in_common"] == 1
    assert set(signal.evidence["addresses"]) == {
        subject_pseudonym("alice.s@example.net"),
        subject_pseudonym("bobby.k@example.com"),
    }
    assert set(signal.requests.values_list("reference", flat=True)) == {
        first.reference,
        again.reference,
        second.reference,
    }
    assert AuditEvent.objects.filter(
        action="subjects.abuse.raised", target_id=str(signal.pk)
    ).exists()
    alert = [m for m in mail.outbox if m.subject.startswith("Abuse signal")]
    assert (
        len(alert) == 1
        and alert[0].to == [settings.DPO_EMAIL]
        and second.reference in alert[0].body
    )
    _faceless(signal, ["alice.s@example.net", "bobby.k@example.com"])


def test_one_address_for_several_different_faces():
    """Input: img1 (person01), img3 (person02) and img8 (person03) indexed; one address files three requests with
    the selfies img2 (person01), img12 (person02) and img9 (person03): three face sets that share no face. A
    many_faces signal counts 3 face sets; after two requests there was none."""
    stored = index_photos("img1.jpg", "img3.jpg", "img8.jpg")
    one = _file("watcher@example.org", "img2.jpg")
    two = _file("watcher@example.org", "img12.jpg")
    assert not AbuseSignal.objects.filter(kind=K.MANY_FACES).exists()
    three = _file("watcher@example.org", "img9.jpg")
    for request, name in ((one, "img1.jpg"), (two, "img3.jpg"), (three, "img8.jpg")):
        assert request.candidates.filter(face_ref=stored[name].faces.get().pk).exists(), name
    signal = AbuseSignal.objects.get(kind=K.MANY_FACES)
    assert signal.evidence["face_sets"] == 3 and signal.evidence["address"] == subject_pseudonym(
        "watcher@example.org"
    )
    assert set(signal.evidence["requests"]) == {one.reference, two.reference, three.reference}
    _faceless(signal, ["watcher@example.org"])


def test_address_variants():
    """Input: requests (no selfie; pages named) from victim@example.org and victim+1@example.org, and a gmail
    address as v.ictim@gmail.com then victim@googlemail.com. Each mailbox raises one address_variants signal with
    2 variants; the addresses appear only as pseudonyms."""
    a = _file("victim@example.org")
    assert not AbuseSignal.objects.exists()  # one form: nothing
    b = _file("victim+1@example.org")
    c = _file("v.ictim@gmail.com")
    d = _file("victim@googlemail.com")
    signals = {
        s.evidence["address"]: s for s in AbuseSignal.objects.filter(kind=K.ADDRESS_VARIANTS)
    }
    assert set(signals) == {
        subject_pseudonym("victim@example.org"),
        subject_pseudonym("victim@gmail.com"),
    }
    plain = signals[subject_pseudonym("victim@example.org")]
    assert plain.evidence["variants"] == 2 and set(plain.evidence["requests"]) == {
        a.reference,
        b.reference,
    }
    assert set(signals[subject_pseudonym("victim@gmail.com")].evidence["requests"]) == {
        c.reference,
        d.reference,
    }
    for signal in signals.values():
        _faceless(
            signal,
            [
                "victim@example.org",
                "victim+1@example.org",
                "v.ictim@gmail.com",
                "victim@googlemail.com",
            ],
        )


def _capture_failed(request: SubjectRequest) -> None:
    """What the capture flow writes when a live capture fails its checks (numbers only)."""
    audit_record(
        actor=None,
        action="subjects.capture.failed",
        target=request,
        outcome="failure",
        details={"reference": request.reference, "checks_failed": ["continuity"]},
    )


def test_a_request_failing_the_live_checks_repeatedly():
    """Input: one request whose live capture failed 2, then 3 times (audit events as the capture flow writes them).
    No signal at 2; at 3 the capture flow's call raises capture_failures with the count; a second request with 3
    failures and no call from the capture flow is raised by the periodic sweep."""
    request = _file("tries@example.org")
    for _ in range(2):
        _capture_failed(request)
    assert abuse.abuse_capture_failed(request=request) is None
    _capture_failed(request)
    signal = abuse.abuse_capture_failed(request=request)
    assert signal is not None and signal.kind == K.CAPTURE_FAILURES
    assert signal.evidence["failures"] == 3 and signal.evidence["requests"] == [request.reference]
    silent = _file("other.tries@example.org")
    for _ in range(3):
        _capture_failed(silent)
    assert abuse.abuse_capture_sweep() == 1
    assert AbuseSignal.objects.filter(kind=K.CAPTURE_FAILURES, key=silent.reference).exists()
    assert abuse.abuse_capture_sweep() == 0  # idempotent: nothing new
    _faceless(signal, ["tries@example.org", "other.tries@example.org"])


def test_dpo_sees_open_signals_and_the_digest_mentions_them(client, dpo, teammate):
    """Input: two variants of one address (one open signal). The DPO's queue shows the count, the list shows the
    evidence and the requests with no image, closing needs a note and is audited; the daily digest mentions the
    open signal; a customer gets 403 on the list."""
    _file("victim@example.org")
    request = _file("victim+1@example.org")
    signal = AbuseSignal.objects.get()
    client.force_login(teammate)
    assert client.get(reverse("subjects:abuse_signals")).status_code == 403
    client.force_login(dpo)
    queue = client.get(reverse("subjects:queue")).content.decode()
    assert "Open abuse signals: 1" in queue
    page = client.get(reverse("subjects:abuse_signals")).content.decode()
    assert request.reference in page and "variants: 2" in page and "<img" not in page
    assert "victim@example.org" not in page and "victim+1" not in page
    mail.outbox.clear()
    assert services.dpo_digest() >= 0
    digest = [m for m in mail.outbox if m.subject.startswith("Subject requests")]
    assert (
        digest
        and "1 abuse signal open" in digest[0].subject
        and "Open abuse signals: 1" in digest[0].body
    )
    client.post(reverse("subjects:abuse_signal", args=[signal.pk]), {"note": ""})
    signal.refresh_from_db()
    assert signal.status == "open"
    client.post(
        reverse("subjects:abuse_signal", args=[signal.pk]),
        {"note": "Same person, two aliases; proof asked."},
    )
    signal.refresh_from_db()
    assert (
        signal.status == "closed"
        and AuditEvent.objects.filter(action="subjects.abuse.closed", actor_id=dpo.pk).exists()
    )


def test_signals_are_raised_through_the_public_form(client):
    """Input: the public request form, posted twice with victim@example.net and victim+abc@example.net (the
    intake a stranger uses). The second raises the address_variants signal at candidate location or verification."""
    submit(client, "access", email="victim@example.net", urls="https://example.org/nowhere.html")
    submit(
        client, "access", email="victim+abc@example.net", urls="https://example.org/nowhere.html"
    )
    assert AbuseSignal.objects.filter(kind=K.ADDRESS_VARIANTS).count() == 1
