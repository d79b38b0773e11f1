"""A member of the public's journey: files access, erasure and objection requests with a selfie,
confirms each by the button behind the emailed link, answers the DPO's question on the status page,
and downloads the access package; then sees the erasure completed on the status page.

Bad things it would catch: a link that confirms on a plain GET (mail scanners), a link to another
port, a question the person cannot see or answer in the app, an email asking for a reply to an
address nobody reads, raw timestamps or server paths on the status page and in the report, a
package that does not download or whose report is unreadable.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest
from django.core import mail

from subjects import services
from subjects.models import Candidate, SubjectRequest
from tests.browser.conftest import RAW_TIMESTAMP, requires_chromium, server_path_markers
from tests.search import photos
from tests.search.conftest import index_photos
from tests.subjects.requests_support import prove_identity

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), requires_chromium]

S = SubjectRequest.Status
EMAIL = "sam.person@example.net"
ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


def _file(j, label: str, kind: str) -> SubjectRequest:
    """From the rights page: file a request with a selfie, then confirm it by the emailed link."""
    page = j.page
    j.goto("/rights/")
    page.get_by_role("link", name=label).first.click()
    page.get_by_label("Your email address").fill(EMAIL)
    page.get_by_label("A photo of your face (optional)").set_input_files(
        str(photos.IMAGES / "img2.jpg")
    )
    j.step(f"{kind} form", check_links=False)
    page.get_by_role("button", name="Send my request").click()
    heading = page.get_by_role("heading", name=re.compile(r"Your request R-"))
    heading.wait_for()
    reference = j.found(r"R-[\w-]+", heading.inner_text())
    req = SubjectRequest.objects.get(reference=reference)
    assert req.status == S.AWAITING_VERIFICATION
    page.reload()  # a refresh files nothing twice
    assert SubjectRequest.objects.filter(email=EMAIL, type=req.type).count() == 1
    j.step(f"{req.type} filed")

    j.goto(j.email_link(EMAIL, "/rights/verify/", subject=reference))
    req.refresh_from_db()
    assert req.status == S.AWAITING_VERIFICATION, (
        "opening the emailed link confirmed the request without the button"
    )
    j.step(f"{req.type} confirm page", check_links=False)
    page.get_by_role("button", name="Confirm my request").click()
    page.get_by_role("heading", name=re.compile("is confirmed")).wait_for()
    req.refresh_from_db()
    assert req.status == S.IN_REVIEW
    j.step(f"{req.type} confirmed")
    return req


def _confirm_mine(req: SubjectRequest, mine: set[int], dpo) -> None:
    """What the DPO does (their own journey drives it in the browser)."""
    for candidate in req.candidates.filter(status=Candidate.Status.PROPOSED):
        services.candidate_decide(
            candidate=candidate, confirm=candidate.face_ref in mine, actor=dpo
        )


def test_public_files_confirms_answers_and_downloads(journey, dpo, tmp_path):
    indexed = index_photos("img1.jpg", "img4.jpg", "img3.jpg")
    mine = {indexed[n].faces.get().pk for n in ("img1.jpg", "img4.jpg")}
    j, page = journey, journey.page

    j.goto("/rights/")
    assert "(set " not in j.visible_text(), "the rights notice shows a configuration placeholder"
    j.step("rights notice")

    access = _file(j, "Access to my data (Art 15)", "access")
    erasure = _file(j, "Erase my data (Art 17)", "erasure")
    objection = _file(j, "Object to the processing of my face", "objection")
    assert (access.type, erasure.type, objection.type) == ("access", "erasure", "objection")

    # The DPO asks a question about the erasure; the email sends the person to the status page.
    services.request_transition(
        request=erasure,
        action="ask_clarification",
        actor=dpo,
        reason="Is the photo at the gala you?",
    )
    question_mail = next(m for m in reversed(mail.outbox) if erasure.reference in m.subject)
    assert not re.search(r"reply to this (e-?mail|message)", str(question_mail.body), re.I), (
        question_mail.body
    )
    j.goto(j.email_link(EMAIL, "/rights/requests/", subject=erasure.reference))
    assert page.get_by_text("Is the photo at the gala you?").first.is_visible()
    assert "Waiting for your reply" in page.locator("#public-status").inner_text()
    j.step("question on the status page")
    page.get_by_label("Your answer").fill("Yes, that is me at the gala.")
    page.get_by_role("button", name="Send my answer").click()
    page.get_by_text("we have your answer").wait_for()
    erasure.refresh_from_db()
    assert erasure.status == S.IN_REVIEW, "the clock did not resume when the person answered"
    timeline = page.locator("ol.timeline").inner_text()
    for expected in (
        "We received your request",
        "You confirmed",
        "We asked you a question",
        "You answered",
    ):
        assert expected in timeline, f"{expected!r} is missing from the timeline:\n{timeline}"
    assert not ISO_DATE.search(timeline), timeline
    j.step("answer sent")
    j.assert_fits(375)

    # The DPO finds the person's photos and carries out the access request: the package link is emailed.
    _confirm_mine(access, mine, dpo)
    access = services.request_transition(request=access, action="approve", actor=dpo)
    prove_identity(access, dpo)
    services.request_execute(request=access, actor=dpo)
    j.goto(j.email_link(EMAIL, "/rights/package/", subject=access.reference))
    j.step("package page", check_links=False)
    with page.expect_download() as download:
        page.get_by_role("button", name=re.compile("Download my data")).click()
    archive = zipfile.ZipFile(io.BytesIO(Path(download.value.path()).read_bytes()))
    names = archive.namelist()
    assert "report.html" in names and "data.json" in names, names
    assert len([n for n in names if n.lower().endswith((".jpg", ".jpeg"))]) == len(mine), names
    for name in ("report.html", "data.json"):
        text = archive.read(name).decode()
        for marker in server_path_markers():
            assert marker not in text, f"{name} shows a server path ({marker!r})"
    unpacked = tmp_path / "package"
    archive.extractall(unpacked)
    page.goto((unpacked / "report.html").as_uri())  # as the person opens it: from their disk
    report = j.visible_text()
    assert not RAW_TIMESTAMP.search(report) and not ISO_DATE.search(report), (
        "the report shows raw dates"
    )
    assert page.locator("img").count() == len(mine)
    assert "img1.jpg" in report and "img4.jpg" in report and "img3.jpg" not in report, (
        "not the person's photos"
    )
    j.step("report opened from the download", check_links=False)

    # The erasure is carried out; the status page says so, with what was erased.
    _confirm_mine(erasure, mine, dpo)
    erasure = services.request_transition(request=erasure, action="approve", actor=dpo)
    prove_identity(erasure, dpo)
    services.request_execute(request=erasure, actor=dpo)
    j.goto(j.email_link(EMAIL, "/rights/requests/", subject=erasure.reference))
    assert "Completed" in page.locator("#public-status").inner_text()
    timeline = page.locator("ol.timeline").inner_text()
    assert "Erased: 2 photos" in timeline, timeline
    j.step("erasure completed")

    # The objection is still open, with its due date in words.
    j.goto(j.email_link(EMAIL, "/rights/requests/", subject=objection.reference))
    due = page.locator("dl.facts").inner_text()
    assert re.search(r"by \w+day \d{1,2} \w+ \d{4}", due), due
    j.step("objection in review")
    j.assert_emails_fit(EMAIL)
    j.finish()
