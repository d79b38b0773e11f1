"""The DPO page for a request whose requester is not yet shown to be the person (issue 22), in Chromium.

Tried: an erasure filed with a selfie of person01 (img2) and an email that was only verified by its link; the
DPO confirms the candidates and approves it. Expect: the page says what was verified ("Not yet proven"), the
Carry-out button is disabled with its reason, the faces are hidden from every search meanwhile; the DPO records
a video call through the page's form; the state reads "Proven", the button is enabled and carries the erasure
out.
"""

from __future__ import annotations

import re

import pytest
from django.core import mail

from search.models import Face, SourceImage
from subjects import services
from subjects.models import SubjectRequest
from tests.accounts import factories
from tests.browser.conftest import Journey, requires_chromium
from tests.search import photos
from tests.search.conftest import index_photos

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), requires_chromium]


def test_dpo_records_a_verification_before_carrying_out(journey):
    indexed = index_photos("img1.jpg", "img3.jpg")
    mine = indexed["img1.jpg"].faces.get()
    req, _ = services.request_submit(
        type="erasure", email="someone@example.com", selfie=photos.photo("img2.jpg")
    )
    body = next(str(m.body) for m in reversed(mail.outbox) if req.reference in m.subject)
    services.request_verify(token=Journey.found(r"/rights/verify/([^/\s]+)/", body, 1))
    assert (
        Face.objects.get(pk=mine.pk).status == Face.Status.RESTRICTED
    )  # hidden at once, pending the proof
    dpo = factories.staff("dpo", email="dpo@facesearch.example")
    secret = factories.with_totp(dpo)
    j, page = journey, journey.page

    j.log_in(dpo.email, totp_secret=secret)
    j.goto(f"/rights/dpo/{req.reference}/")
    page.get_by_role("heading", name=re.compile(req.reference)).wait_for()
    assert "Not yet proven" in page.locator("#identity-proof").inner_text()
    assert "verified" in page.locator("#identity-email").inner_text()
    assert "restricted" in page.locator("#identity-hidden").inner_text()
    j.step("not yet proven")

    for candidate in req.candidates.all():
        services.candidate_decide(
            candidate=candidate, confirm=candidate.face_ref == mine.pk, actor=dpo
        )
    page.reload()
    page.get_by_role("button", name="Approve", exact=True).click()
    page.wait_for_load_state("load")
    button = page.get_by_role("button", name="Carry it out now")
    assert button.is_disabled()
    assert "record a verification above first" in page.locator("#execute-why").inner_text()
    j.step("carry out disabled")

    form = page.locator("#record-proof")
    form.get_by_label("Video call with the DPO").check()
    form.get_by_label("Accepted: the requester is the person").check()
    form.get_by_label("Note: what you checked").fill(
        "Video call: the face matches the confirmed photo"
    )
    form.get_by_role("button", name="Record the verification").click()
    page.wait_for_load_state("load")
    proof = page.locator("#identity-proof").inner_text()
    assert (
        proof.startswith("Proven")
        and "Video call with the DPO" in proof
        and "dpo@facesearch.example" in proof
    )
    assert page.get_by_role("button", name="Carry it out now").is_enabled()
    j.step("verification recorded")

    page.get_by_role("button", name="Carry it out now").click()
    page.wait_for_load_state("load")
    assert page.locator("#dpo-status").inner_text() == "Completed"
    assert not SourceImage.objects.filter(pk=indexed["img1.jpg"].pk).exists()
    assert SubjectRequest.objects.get(pk=req.pk).status == SubjectRequest.Status.COMPLETED
    j.step("carried out")
    j.finish()
