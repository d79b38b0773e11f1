"""The steps of a data-subject request as a person takes them (submit, verify, prove identity), the
DPO's approval, and the indexed photos the request modules share; other test modules use them too.
"""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from search.models import SearchHit, SearchRequest
from subjects import services
from subjects.models import SubjectRequest
from tests.search.conftest import index_photos

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
