"""The DPO's journey: logs in with a code from the authenticator app, works the queue: judges the
candidate faces of an access and an erasure request, approves and carries them out, reads the erasure
receipt, and asks a requester a question.

Bad things it would catch: Confirm buttons left on decided rows, duplicate form ids, a receipt shown
as a Python dict, status wording meant for the requester ("your reply") on the DPO's page, an erasure
that leaves the person's photos indexed or takes someone else's.
"""

from __future__ import annotations

import re

import pytest
from django.core import mail

from search.models import SourceImage
from subjects import services
from subjects.models import Candidate, SubjectRequest
from tests.accounts import factories
from tests.browser.conftest import Journey, requires_chromium
from tests.search import photos
from tests.search.conftest import index_photos

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), requires_chromium]

S = SubjectRequest.Status


def _filed_and_confirmed(kind: str, email: str) -> SubjectRequest:
    """A request as the public files it (their journey drives this in the browser)."""
    req, _ = services.request_submit(type=kind, email=email, selfie=photos.photo("img2.jpg"))
    body = next(str(m.body) for m in reversed(mail.outbox) if req.reference in m.subject)
    token = Journey.found(r"/rights/verify/([^/\s]+)/", body, 1)
    return services.request_verify(token=token)


def _judge(j, req: SubjectRequest, mine: set[int]) -> None:
    """Confirm the requester's faces, reject the others: all at once when every one shown is theirs."""
    page = j.page
    proposed = list(req.candidates.filter(status=Candidate.Status.PROPOSED, face__isnull=False))
    assert proposed, "no candidate face proposed for a selfie of an indexed person"
    if {c.face_ref for c in proposed} <= mine:
        page.get_by_role("button", name=f"Confirm all {len(proposed)} shown").click()
        page.get_by_text(re.compile(f"Confirmed {len(proposed)} candidate")).wait_for()
    else:
        for candidate in proposed:
            row = page.locator(f"#candidate-{candidate.pk}")
            row.get_by_role(
                "button", name="Confirm" if candidate.face_ref in mine else "Reject", exact=True
            ).click()
            page.wait_for_load_state("load")
    assert page.get_by_role("button", name="Confirm", exact=True).count() == 0, (
        "a decided candidate still offers Confirm"
    )
    states = page.locator("table.candidates span.state").all_inner_texts()
    assert states and all(s.strip() in ("Confirmed", "Rejected") for s in states), states
    assert req.candidates.filter(status=Candidate.Status.CONFIRMED).count() >= 1


def _record_video_call(j) -> None:
    """The DPO verified the requester on a video call and records it (the second tier and erasure need it)."""
    page = j.page
    assert "Not yet proven" in page.locator("#identity-proof").inner_text()
    form = page.locator("#record-proof")
    form.get_by_label("Video call with the DPO").check()
    form.get_by_label("Accepted: the requester is the person").check()
    form.get_by_label("Note: what you checked").fill(
        "Video call: the face matches the confirmed photos"
    )
    form.get_by_role("button", name="Record the verification").click()
    page.wait_for_load_state("load")
    assert page.locator("#identity-proof").inner_text().startswith("Proven"), page.locator(
        "#identity-proof"
    ).inner_text()


def _approve_and_carry_out(j) -> None:
    page = j.page
    page.get_by_role("button", name="Approve", exact=True).click()
    page.wait_for_load_state("load")
    assert page.locator("#dpo-status").inner_text() == "Approved"
    _record_video_call(j)
    page.get_by_role("button", name="Carry it out now").click()
    page.wait_for_load_state("load")
    assert page.locator("#dpo-status").inner_text() == "Completed", j.visible_text()[:800]


def test_dpo_works_the_queue(journey):
    indexed = index_photos("img1.jpg", "img4.jpg", "img3.jpg")
    mine = {indexed[n].faces.get().pk for n in ("img1.jpg", "img4.jpg")}
    access = _filed_and_confirmed("access", "sam.person@example.net")
    erasure = _filed_and_confirmed("erasure", "sam.person@example.net")
    objection = _filed_and_confirmed("objection", "alex.other@example.net")
    dpo = factories.staff("dpo", email="dpo@facesearch.example")
    secret = factories.with_totp(dpo)
    j, page = journey, journey.page

    j.log_in(dpo.email, totp_secret=secret)
    j.step("logged in")
    assert "Go to the staff pages" not in j.visible_text(), (
        "the DPO's home page shows nothing useful"
    )
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Requests").click()
    page.get_by_role("heading", name="Subject requests").wait_for()
    queue = page.get_by_role("table").inner_text()
    for req in (access, erasure, objection):
        assert req.reference in queue, f"{req.reference} is missing from the queue"
    j.step("queue")

    # The access request: judge the faces, approve, carry it out; the requester gets the package link.
    page.get_by_role("link", name=access.reference).click()
    page.get_by_role("heading", name=re.compile(access.reference)).wait_for()
    ids = page.evaluate("[...document.querySelectorAll('[id]')].map(e => e.id)")
    assert len(ids) == len(set(ids)), (
        f"duplicate ids: {sorted({i for i in ids if ids.count(i) > 1})}"
    )
    j.step("access request")
    _judge(j, access, mine)
    j.step("access candidates judged")
    _approve_and_carry_out(j)
    assert any(access.reference in m.subject and "/rights/package/" in m.body for m in mail.outbox)
    j.step("access carried out")

    # The erasure request: the receipt is a table a person reads, and the photos are gone.
    j.goto("/rights/dpo/")
    page.get_by_role("link", name=erasure.reference).click()
    page.get_by_role("heading", name=re.compile(erasure.reference)).wait_for()
    _judge(j, erasure, mine)
    j.step("erasure candidates judged")
    _approve_and_carry_out(j)
    receipt = page.locator("table.receipt")
    receipt.wait_for()
    rows = dict(
        zip(
            receipt.locator("th").all_inner_texts(),
            (t.strip() for t in receipt.locator("td").all_inner_texts()),
            strict=True,
        )
    )
    assert rows["Images erased"] == "2", rows
    assert rows["Checked afterwards: nothing left"] == "Yes", rows
    assert "{'" not in j.visible_text(), "the receipt is shown as a Python dict"
    assert not SourceImage.objects.filter(
        pk__in=[indexed[n].pk for n in ("img1.jpg", "img4.jpg")]
    ).exists()
    assert SourceImage.objects.filter(pk=indexed["img3.jpg"].pk).exists(), (
        "someone else's photo was erased"
    )
    j.step("erasure receipt")

    # Another requester is asked a question; the page says whose reply it waits for.
    j.goto("/rights/dpo/")
    page.get_by_role("link", name=objection.reference).click()
    page.get_by_role("heading", name=re.compile(objection.reference)).wait_for()
    ask = page.locator("form").filter(
        has=page.get_by_role("button", name=re.compile("^Ask the requester"))
    )
    ask.locator("textarea").fill("Which of these pages shows you?")
    ask.get_by_role("button", name=re.compile("^Ask the requester")).click()
    page.wait_for_load_state("load")
    objection.refresh_from_db()
    assert objection.status == S.AWAITING_CLARIFICATION
    text = j.visible_text()
    assert "requester's reply" in page.locator("#dpo-status").inner_text()
    assert "your reply" not in text.lower(), "the DPO's page speaks to the requester"
    assert "Which of these pages shows you?" in text
    j.step("question asked")
    j.finish()
