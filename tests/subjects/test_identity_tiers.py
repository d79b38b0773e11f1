"""Disclosure in proportion to proof (issue 22): the impersonation journey through the real portal and the real
face model on the shared photos (img1, img2, img4: person01; img3: person02).

A stranger holds a photo of person01 (img2) and files requests with their own email. A verified email releases
the first tier only; the photos, addresses, dates and organisations, and erasure, objection and restriction,
wait for an accepted identity proof recorded by the DPO (subjects.identity). Meanwhile the faces an erasure,
objection or restriction locates are restricted at once, and the restriction is lifted if the request closes
unfulfilled.
"""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import TestCase
from django.urls import reverse

from compliance.models import AuditEvent
from search import services as search_services
from search.models import Face, SearchHit, SearchRequest
from subjects import services
from subjects.models import AccessPackage, Candidate, SubjectRequest
from tests.search import photos
from tests.search.conftest import index_photos
from tests.subjects.requests_support import link, prove_identity, submit, verify

pytestmark = pytest.mark.django_db(transaction=True)  # emails go out on commit

S = SubjectRequest.Status
STRANGER = "curious.stranger@example.com"
FIELDS = {
    "purpose": "Locate a witness",
    "lawful_basis": "legitimate_interests",
    "case_reference": "CASE-22",
}


@pytest.fixture
def store(owner):
    """person01 on two pages (img1, img4), person02 on one (img3); the owner's organisation saw img1 in a search."""
    images = index_photos("img1.jpg", "img4.jpg", "img3.jpg")
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


def _person01(store) -> set[int]:
    return {store["img1.jpg"].faces.get().pk, store["img4.jpg"].faces.get().pk}


def _filed_by_stranger(client, kind: str) -> SubjectRequest:
    """The stranger's request: a selfie of person01 (img2, a real photo of someone else) and their own email,
    the email link followed (the only thing they can prove)."""
    req = submit(client, kind, selfie=photos.photo("img2.jpg"), email=STRANGER)
    verify(client)
    return SubjectRequest.objects.get(pk=req.pk)


def _dpo_confirms_and_approves(req: SubjectRequest, dpo) -> SubjectRequest:
    """The DPO, looking at candidate crops with nothing to compare them with, confirms the likely ones."""
    for candidate in req.candidates.all():
        services.candidate_decide(candidate=candidate, confirm=not candidate.borderline, actor=dpo)
    return services.request_transition(
        request=SubjectRequest.objects.get(pk=req.pk), action="approve", actor=dpo
    )


def _package(client, req: SubjectRequest) -> zipfile.ZipFile:
    message = [
        m
        for m in mail.outbox
        if m.subject.startswith(f"[{req.reference}]") and "/rights/package/" in m.body
    ][-1]
    response = client.post(
        link(message, "package")
    )  # the download button (a GET shows the page only)
    assert response.status_code == 200
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def _organisation_search_ids(teammate) -> set[int]:
    """A real search by a customer organisation with another photo of person01 (img2), run as the worker does."""
    search = search_services.search_create(
        user=teammate, image_data=photos.photo("img2.jpg"), **FIELDS
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        search_services.search_process_probe(search_id=search.pk)
    return set(SearchHit.objects.filter(search=search).values_list("face_id", flat=True))


def test_stranger_access_gets_first_tier_only(client, store, dpo):
    """Tried: the stranger's access request (person01's photo, own email), confirmed and carried out by the DPO
    without any identity proof. Expect: the ZIP holds no photo, no web address, no date seen, no organisation;
    it says we hold photos as a band ("1–5") and how to get the rest (live camera check, or the DPO)."""
    req = _filed_by_stranger(client, "access")
    assert set(
        req.candidates.filter(borderline=False).values_list("face_ref", flat=True)
    ) == _person01(store)
    req = _dpo_confirms_and_approves(req, dpo)
    services.request_execute(request=req, actor=dpo)
    archive = _package(client, req)
    names = archive.namelist()
    assert not [n for n in names if n.startswith("faces/")], names  # no crop
    data = json.loads(archive.read("data.json"))
    report = archive.read("report.html").decode()
    everything = json.dumps(data) + report
    assert (
        data["tier"] == "first"
        and data["images"] == []
        and data["recipients"] == []
        and data["sources"] == []
    )
    assert data["photos_held"] == "1–5"  # two photos of person01, told as a band
    for secret in (
        "https://example.org/",
        "img1.jpg",
        "img4.jpg",
        "Acme Investigations",
        "CASE-9",
        "test photos",
    ):
        assert secret not in everything, f"{secret!r} leaked into the first-tier package"
    assert "live camera check" in report and "ID document" in report
    assert "1–5" in report
    assert (
        AuditEvent.objects.filter(action="subjects.request.completed")
        .latest("pk")
        .details["second_tier"]
        is False
    )


def test_genuine_request_with_video_call_proof_gets_second_tier(client, store, dpo):
    """Tried: the same access request, with the DPO recording an accepted video-call proof before carrying it out.
    Expect: the crops of both photos, their addresses and the organisation that saw img1 are in the package."""
    req = _filed_by_stranger(client, "access")
    req = _dpo_confirms_and_approves(req, dpo)
    prove_identity(req, dpo, method="video_call")
    services.request_execute(request=req, actor=dpo)
    archive = _package(client, req)
    data = json.loads(archive.read("data.json"))
    assert data["tier"] == "second"
    assert {f"faces/{pk}.jpg" for pk in _person01(store)} <= set(archive.namelist())
    assert {i["page_url"] for i in data["images"]} == {
        "https://example.org/img1.jpg.html",
        "https://example.org/img4.jpg.html",
    }
    assert data["recipients"] == ["Acme Investigations"]


def test_refused_proof_keeps_the_second_tier_closed(client, store, dpo):
    """Tried: an accepted proof followed by a refused one (the DPO changed their mind after the video call).
    Expect: the latest decision counts: the package is first tier; audit has both decisions."""
    req = _filed_by_stranger(client, "access")
    req = _dpo_confirms_and_approves(req, dpo)
    prove_identity(req, dpo, accepted=True)
    prove_identity(req, dpo, accepted=False)
    services.request_execute(request=req, actor=dpo)
    archive = _package(client, req)
    assert json.loads(archive.read("data.json"))["tier"] == "first"
    assert not [n for n in archive.namelist() if n.startswith("faces/")]
    actions = list(
        AuditEvent.objects.filter(action__startswith="subjects.identity.").values_list(
            "action", flat=True
        )
    )
    assert sorted(actions) == ["subjects.identity.accepted", "subjects.identity.refused"]


@pytest.mark.parametrize("kind", ["erasure", "objection", "restriction"])
def test_irreversible_action_waits_for_proof_and_faces_are_hidden_meanwhile(
    client, store, dpo, teammate, kind
):
    """Tried: the stranger's erasure/objection/restriction with person01's photo, verified by email, confirmed and
    approved. Expect: carrying it out is refused without proof; nothing is erased; person01's faces are restricted
    from the moment of verification, so a real organisation search with another photo of person01 returns nothing;
    person02's face is untouched."""
    person01 = _person01(store)
    before = _organisation_search_ids(teammate)
    assert before & person01  # the search does find person01 before the request
    req = _filed_by_stranger(client, kind)
    assert set(Face.objects.filter(pk__in=person01).values_list("status", flat=True)) == {
        Face.Status.RESTRICTED
    }
    assert store["img3.jpg"].faces.get().status == Face.Status.ACTIVE
    assert not (_organisation_search_ids(teammate) & person01)
    req = _dpo_confirms_and_approves(req, dpo)
    with pytest.raises(ValidationError, match="not yet shown to be the person"):
        services.request_execute(request=req, actor=dpo)
    assert SubjectRequest.objects.get(pk=req.pk).status == S.APPROVED
    assert Face.objects.filter(pk__in=person01).count() == 2  # nothing erased
    # Through the DPO page too: the same owner refuses it.
    client.force_login(dpo)
    client.post(reverse("subjects:detail", args=[req.reference]), {"action": "execute"})
    assert SubjectRequest.objects.get(pk=req.pk).status == S.APPROVED


def test_erasure_carried_out_once_proven(client, store, dpo):
    """Tried: the genuine person's erasure (img2 selfie), proof recorded by the DPO (video call). Expect: both
    photos of person01 erased; person02 untouched."""
    person01 = _person01(store)
    req = _filed_by_stranger(client, "erasure")
    req = _dpo_confirms_and_approves(req, dpo)
    prove_identity(req, dpo)
    services.request_execute(request=req, actor=dpo)
    assert not Face.objects.filter(pk__in=person01).exists()
    assert store["img3.jpg"].faces.get().status == Face.Status.ACTIVE


@pytest.mark.parametrize("how", ["withdraw", "deny"])
def test_restriction_lifted_when_the_request_closes_unfulfilled(client, store, dpo, teammate, how):
    """Tried: the stranger's erasure, verified (faces restricted), then withdrawn / denied by the DPO.
    Expect: person01's faces are searchable again; the lift is audited."""
    req = _filed_by_stranger(client, "erasure")
    reason = "The requester could not show it is them" if how == "deny" else ""
    services.request_transition(request=req, action=how, actor=dpo, reason=reason)
    assert set(Face.objects.filter(pk__in=_person01(store)).values_list("status", flat=True)) == {
        Face.Status.ACTIVE
    }
    assert _organisation_search_ids(teammate) & _person01(store)
    assert AuditEvent.objects.filter(action="search.faces.restriction_lifted").exists()


def test_rejected_candidate_is_lifted_and_another_request_keeps_it(client, store, dpo):
    """Tried: two erasure requests locating person01 (both verified); the DPO rejects img4's candidate in the first,
    then denies the first. Expect: img4 stays restricted while the second request is open (another reason keeps
    it); once the second is withdrawn too, both faces are active again."""
    first = _filed_by_stranger(client, "erasure")
    second = _filed_by_stranger(client, "erasure")
    img4 = store["img4.jpg"].faces.get()
    services.candidate_decide(
        candidate=first.candidates.get(face_ref=img4.pk), confirm=False, actor=dpo
    )
    services.request_transition(
        request=first, action="deny", actor=dpo, reason="Not shown to be the person"
    )
    assert Face.objects.get(pk=img4.pk).status == Face.Status.RESTRICTED
    services.request_transition(request=second, action="withdraw", actor=dpo)
    assert set(Face.objects.filter(pk__in=_person01(store)).values_list("status", flat=True)) == {
        Face.Status.ACTIVE
    }


def test_candidate_rejected_alone_is_lifted(client, store, dpo):
    """Tried: one erasure request; the DPO rejects img4's candidate (not the person). Expect: img4 searchable again
    at once, img1 still restricted pending the proof."""
    req = _filed_by_stranger(client, "erasure")
    img1, img4 = store["img1.jpg"].faces.get(), store["img4.jpg"].faces.get()
    services.candidate_decide(
        candidate=req.candidates.get(face_ref=img4.pk), confirm=False, actor=dpo
    )
    assert Face.objects.get(pk=img4.pk).status == Face.Status.ACTIVE
    assert Face.objects.get(pk=img1.pk).status == Face.Status.RESTRICTED
    assert req.candidates.filter(status=Candidate.Status.REJECTED).count() == 1


def test_access_request_restricts_nothing(client, store, dpo):
    """Tried: the stranger's access request, verified. Expect: no face restricted (access changes nothing)."""
    _filed_by_stranger(client, "access")
    assert set(Face.objects.filter(pk__in=_person01(store)).values_list("status", flat=True)) == {
        Face.Status.ACTIVE
    }
    assert not AccessPackage.objects.exists()


def test_dpo_page_shows_what_was_verified_and_records_a_method(client, store, dpo):
    """Tried: the DPO opens the stranger's approved erasure, then records a refused and an accepted video call
    through the page's form (the person has no camera). Expect: "Not yet proven" and a disabled Carry-out button
    with its reason; a refused record keeps it disabled; an accepted one enables it and the request can be carried
    out; each decision audited; the note is shown."""
    req = _dpo_confirms_and_approves(_filed_by_stranger(client, "erasure"), dpo)
    client.force_login(dpo)
    url = reverse("subjects:detail", args=[req.reference])
    page = client.get(url).content.decode()
    assert (
        "Not yet proven" in page
        and "verified " in page
        and "Record how the requester was verified" in page
    )
    assert (
        'value="execute" class="primary" disabled' in page
        and "record a verification above first" in page
    )
    assert 'value="live_capture"' not in page  # the capture flow records its own
    form = {
        "action": "record_proof",
        "proof-method": "video_call",
        "proof-note": "Face on the call did not match",
    }
    client.post(url, {**form, "proof-decision": "refused"})
    page = client.get(url).content.decode()
    assert "Refused" in page and 'value="execute" class="primary" disabled' in page
    client.post(
        url,
        {
            **form,
            "proof-decision": "accepted",
            "proof-note": "Video call: the face matches the crops",
        },
    )
    page = client.get(url).content.decode()
    assert (
        "Proven" in page
        and "Video call with the DPO" in page
        and "the face matches the crops" in page
    )
    assert 'value="execute" class="primary">Carry it out now' in page
    client.post(url, {"action": "execute"})
    assert SubjectRequest.objects.get(pk=req.pk).status == S.COMPLETED
    assert AuditEvent.objects.filter(action="subjects.identity.refused").count() == 1
    assert AuditEvent.objects.filter(action="subjects.identity.accepted").count() == 1


def test_dpo_page_access_button_says_first_tier_only(client, store, dpo):
    """Tried: the stranger's approved access request on the DPO page, unproven. Expect: the button says it gives
    the first tier only, and the facts say what it releases."""
    req = _dpo_confirms_and_approves(_filed_by_stranger(client, "access"), dpo)
    client.force_login(dpo)
    page = client.get(reverse("subjects:detail", args=[req.reference])).content.decode()
    assert "Carry it out now: first tier only" in page and "The first tier only" in page


def test_the_person_is_told_what_each_tier_releases(client, store):
    """Tried: the stranger's erasure, verified; the status page read in English and in French, the confirmation
    email, and the rights notice. Expect: each says the first tier comes with the email, the photos and who saw
    them need proof (a live camera check or the DPO; no ID document by default), and that the photos are already
    hidden from every search."""
    req = _filed_by_stranger(client, "erasure")
    received = [m for m in mail.outbox if m.subject.startswith(f"[{req.reference}]")][-1].body
    assert "short live camera check" in received and "already hidden from every search" in received
    path = services.status_link(req).split("://", 1)[1].split("/", 1)[1]
    page = client.get("/" + path).content.decode()
    assert "short live camera check" in page and "ID document by default" in page
    assert "already hidden from every search" in page
    french = client.get("/" + path, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "déjà masquées dans toutes les recherches" in french and "pièce d’identité" in french
    notice = client.get(reverse("subjects:notice")).content.decode()
    assert "hidden from every search as soon as your email is confirmed" in notice


def test_faces_found_by_an_answer_are_hidden_too(client, dpo):
    """Tried: an erasure filed with person01's selfie (img2) while only person02 (img3) is indexed, verified; then
    img1 (person01) is indexed, the DPO asks which photo, and the answer gives img1's page address. Expect: img1's
    face, located by the answer, is restricted at once like those located at verification."""
    index_photos("img3.jpg")
    req = _filed_by_stranger(client, "erasure")
    img1 = index_photos("img1.jpg")["img1.jpg"].faces.get()
    assert (
        img1.status == Face.Status.ACTIVE and not req.candidates.filter(face_ref=img1.pk).exists()
    )
    req = services.request_transition(
        request=req, action="ask_clarification", actor=dpo, reason="Which page?"
    )
    services.clarification_answer(request=req, urls=["https://example.org/img1.jpg.html"])
    assert req.candidates.filter(face_ref=img1.pk).exists()
    assert Face.objects.get(pk=img1.pk).status == Face.Status.RESTRICTED


def test_only_the_dpo_records_a_proof_even_through_the_service(client, store, dpo, teammate):
    """Input: a stranger's erasure request; a customer's analyst (logged in, no DPO permission) calls the
    service directly to record an accepted video call. Refused, nothing recorded, nothing audited."""
    from django.core.exceptions import PermissionDenied

    from subjects.identity import identity_proof_record, identity_proven

    req = _filed_by_stranger(client, "erasure")
    with pytest.raises(PermissionDenied):
        identity_proof_record(
            request=req, method="video_call", accepted=True, actor=teammate, note="forged"
        )
    assert not identity_proven(request=req)
    assert not AuditEvent.objects.filter(action="subjects.identity.accepted").exists()
