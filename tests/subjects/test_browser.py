"""The member of the public's journey in a real Chromium: file a request with a selfie, confirm it by the
button behind the emailed link, answer the DPO's question with text and a new photo on the status page,
withdraw with "are you sure", download an access package. Screenshots go to test-artifacts/."""

from __future__ import annotations

import io
import os
import re
import zipfile
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core import mail

from subjects import services
from subjects.models import Candidate, SubjectRequest
from tests.browser import django_connections_checked
from tests.search import photos
from tests.search.conftest import index_photos
from tests.subjects.requests_support import prove_identity

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing (apt-get install chromium)"
    ),
]

S = SubjectRequest.Status


@pytest.fixture
def page():
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = (
        "true"  # the ORM is used synchronously from the test body
    )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        django_connections_checked()
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-dev-shm-usage",
            ],
        )
        context = browser.new_context(
            viewport={"width": 1280, "height": 800}, accept_downloads=True
        )
        yield context.new_page()
        browser.close()


def _link(name: str) -> str:
    match = re.search(r"https?://[^/\s]+(/rights/" + name + r"/[^\s]+/)", mail.outbox[-1].body)
    assert match, mail.outbox[-1].body
    return match.group(1)


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"subjects-{name}.png"), full_page=True)


def _fits(page, width: int = 375) -> None:
    page.set_viewport_size({"width": width, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= width, (
        "the page overflows a phone's width"
    )
    page.set_viewport_size({"width": 1280, "height": 800})


def test_public_journey_in_a_browser(live_server, page, dpo, tmp_path):
    store = index_photos("img1.jpg", "img3.jpg")
    base = live_server.url
    # File an erasure request with a selfie; the form leads to the status page.
    page.goto(f"{base}/rights/")
    page.get_by_role("link", name="Erase my data (Art 17)").click()
    page.get_by_label("Your email address").fill("person@example.net")
    page.get_by_label("A photo of your face (optional)").set_input_files(
        str(photos.IMAGES / "img2.jpg")
    )
    page.get_by_role("button", name="Send my request").click()
    page.get_by_role("heading", name=re.compile("Your request R-")).wait_for()
    assert "sent a link to person@example.net" in page.content()
    page.reload()  # a refresh does not file it again
    assert SubjectRequest.objects.count() == 1
    req = SubjectRequest.objects.get()
    status_path = page.url.removeprefix(base)
    _shot(page, "1-status-after-filing")
    _fits(page)
    # The emailed link shows a button; opening it confirms nothing.
    page.goto(base + _link("verify"))
    assert SubjectRequest.objects.get().status == S.AWAITING_VERIFICATION
    _shot(page, "2-confirm-page")
    page.get_by_role("button", name="Confirm my request").click()
    page.get_by_role("heading", name=re.compile("is confirmed")).wait_for()
    assert SubjectRequest.objects.get().status == S.IN_REVIEW
    # The DPO asks a question; the person answers it on the status page with text and a new photo.
    services.request_transition(
        request=req, action="ask_clarification", actor=dpo, reason="Is the newsroom photo you?"
    )
    page.goto(base + status_path)
    assert page.get_by_text("Is the newsroom photo you?").first.is_visible()
    assert page.locator("#public-status").inner_text().startswith("Waiting for your reply")
    _shot(page, "3-question")
    page.get_by_label("Your answer").fill("Yes, and here is a recent photo")
    page.get_by_label("Another photo of your face (optional)").set_input_files(
        str(photos.IMAGES / "img2.jpg")
    )
    page.get_by_role("button", name="Send my answer").click()
    page.get_by_text("we have your answer").wait_for()
    req.refresh_from_db()
    assert req.status == S.IN_REVIEW
    timeline = page.locator("ol.timeline").inner_text()
    for expected in (
        "We received your request",
        "You confirmed",
        "We asked you a question",
        "You answered",
    ):
        assert expected in timeline, expected
    assert not re.search(r"\d{4}-\d{2}-\d{2}", timeline)
    _shot(page, "4-answered")
    _fits(page)
    # Withdraw asks first; "No" keeps it, "Yes" withdraws.
    page.get_by_role("link", name="Withdraw my request").click()
    page.get_by_role("heading", name=re.compile("Withdraw your request")).wait_for()
    _shot(page, "5-withdraw-confirm")
    page.get_by_role("link", name="No, keep it").click()
    assert SubjectRequest.objects.get().status == S.IN_REVIEW
    page.get_by_role("link", name="Withdraw my request").click()
    page.get_by_role("button", name="Yes, withdraw my request").click()
    page.get_by_text("Your request is withdrawn").wait_for()
    assert SubjectRequest.objects.get().status == S.WITHDRAWN
    _shot(page, "6-withdrawn")

    # An access request, carried out by the DPO; the person downloads the package with the button.
    page.goto(f"{base}/rights/request/access/")
    page.get_by_label("Your email address").fill("person@example.net")
    page.get_by_label("A photo of your face (optional)").set_input_files(
        str(photos.IMAGES / "img2.jpg")
    )
    page.get_by_role("button", name="Send my request").click()
    page.get_by_role("heading", name=re.compile("Your request R-")).wait_for()
    access = SubjectRequest.objects.latest("received_at")
    page.goto(base + _link("verify"))
    page.get_by_role("button", name="Confirm my request").click()
    page.get_by_role("heading", name=re.compile("is confirmed")).wait_for()
    mine = store["img1.jpg"].faces.get().pk
    for candidate in access.candidates.filter(face_ref=mine):
        services.candidate_decide(candidate=candidate, confirm=True, actor=dpo)
    assert (
        not access.candidates.filter(status=Candidate.Status.CONFIRMED)
        .exclude(face_ref=mine)
        .exists()
    )
    access = services.request_transition(request=access, action="approve", actor=dpo)
    prove_identity(access, dpo)
    services.request_execute(request=access, actor=dpo)
    page.goto(base + _link("package"))
    _shot(page, "7-package-page")
    with page.expect_download() as info:
        page.get_by_role("button", name="Download my data (ZIP)").click()
    archive = zipfile.ZipFile(io.BytesIO(Path(info.value.path()).read_bytes()))
    report = archive.read("report.html").decode()
    assert "Yes, we hold photos of you" in report and "file:" not in report
    unpacked = tmp_path / "package"
    archive.extractall(
        unpacked
    )  # opened from the unpacked ZIP, as the person does: no server, no CSP
    page.goto((unpacked / "report.html").as_uri())
    assert (
        page.evaluate("getComputedStyle(document.body).maxWidth") != "none"
    )  # the inline styles apply
    assert (
        page.locator("img").first.evaluate("img => img.naturalWidth") > 0
    )  # the crop is in the ZIP
    _shot(page, "8-report")


def test_dpo_confirms_all_shown_in_a_browser(live_server, page, dpo, client, settings):
    """The DPO's request page in Chromium: "confirm all shown", then states instead of buttons, no duplicate ids."""
    settings.SUBJECT_BORDERLINE_FACTOR = (
        3.0  # propose the other person too, so there is something to judge
    )
    index_photos("img1.jpg", "img4.jpg", "img3.jpg")
    client.post(
        "/rights/request/erasure/",
        {"email": "p@example.net", "selfie": io.BytesIO(photos.photo("img2.jpg"))},
    )
    req = SubjectRequest.objects.get()
    services.request_verify(token=_link("verify").split("/")[-2])
    client.force_login(dpo)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])
    page.goto(f"{live_server.url}/rights/dpo/{req.reference}/")
    ids = page.evaluate("[...document.querySelectorAll('[id]')].map(e => e.id)")
    assert len(ids) == len(set(ids)), ids
    _shot(page, "9-dpo-before")
    shown = req.candidates.count()
    page.get_by_role("button", name=f"Confirm all {shown} shown").click()
    page.get_by_text(f"Confirmed {shown} candidates").wait_for()
    assert page.get_by_role("button", name="Confirm", exact=True).count() == 0
    assert page.locator("span.state.confirmed").count() == shown
    _shot(page, "10-dpo-after")
