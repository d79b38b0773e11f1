"""The live capture journey in a real browser with a fake camera: the requester opens the capture page from
their status page, follows the challenge in front of the camera, sends it; the DPO sees the checks beside
the confirmed candidates and accepts.

The camera: Chromium's fake device plays a ``.y4m`` file (``--use-fake-device-for-media-stream
--use-file-for-fake-video-capture=FILE``) that the test builds from photos BEFORE the browser starts, so the
challenge must be known in advance. The test sets ``CAPTURE_TEST_CHALLENGE_SEED`` (a test-only setting,
honoured outside production only, docs/capture.md): the poses the page asks for are then those of
``challenge_new(rng=Random(seed))``; the nonce stays random. Reading the challenge from the page and
building the file afterwards would need a browser restart between the two, and a restarted browser loses
the status cookie the emailed link's page set: seeding is the simpler, honest choice.

What the video stands for: a person (person01, built from img1.jpg: a photo not in the index) at their
laptop who looks at the camera, then turns their head as asked, holding each pose for about 2.5 s
(tests/search/liveness_frames.py says what a synthetic capture cannot show). The page takes one frame
2.5 s after each instruction appears, counted from the moment the camera opened; the file holds each
pose for the 2.5 s around that moment, so small delays in the browser do not move a frame into the
wrong pose.
"""

from __future__ import annotations

import os
import re
import shutil
from random import Random

import pytest
from django.core import mail

from search import liveness
from subjects import services
from subjects.identity import identity_proven
from subjects.models import Candidate, IdentityProof, LiveCapture, SubjectRequest
from tests.accounts import factories
from tests.browser import django_connections_checked
from tests.browser.axe import assert_accessible
from tests.browser.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, Journey, requires_chromium
from tests.search import liveness_frames as frames_
from tests.search import photos
from tests.search.conftest import index_photos

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), requires_chromium]

SEED = 7
FPS = 5
OPEN_MS, STEP_MS = (
    1000,
    2500,
)  # static/js/capture.js: the wait after the camera opens, then each step


def _fake_camera(path, steps: tuple[str, ...]):
    """The y4m: each planned pose held for the window around the moment the page takes its frame."""
    plan = ["neutral", *steps]
    while len(plan) < liveness.MIN_FRAMES:
        plan.append("neutral")
    rng = Random(21)
    scene = frames_.scene("img1.jpg")
    angles = {
        "neutral": (0.0, 0.0),
        "left": (24.0, 0.0),
        "right": (-24.0, 0.0),
        "up": (0.0, 22.0),
        "down": (0.0, -22.0),
    }
    video = []
    for k, pose in enumerate(plan):
        taken_at = OPEN_MS + STEP_MS * (k + 1)
        end = taken_at + STEP_MS // 2 if k < len(plan) - 1 else taken_at + 20_000
        start = 0 if k == 0 else OPEN_MS + STEP_MS * k + STEP_MS // 2
        pixels = frames_.camera(frames_.posed(scene, *angles[pose]), rng)
        video += [pixels] * round((end - start) * FPS / 1000)
    return frames_.write_y4m(path, video, fps=FPS, repeat=1)


def test_a_person_follows_the_challenge_with_a_fake_camera_and_the_dpo_accepts(
    live_server, settings, tmp_path
):
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    settings.SITE_URL = live_server.url
    settings.CAPTURE_TEST_CHALLENGE_SEED = SEED
    steps = liveness.challenge_new(rng=Random(SEED)).steps
    camera = _fake_camera(tmp_path / "camera.y4m", steps)

    # person01's photos img2 and img4 are indexed (and person02's img3); the access request's selfie is img5.
    index_photos("img2.jpg", "img4.jpg", "img3.jpg")
    req, _ = services.request_submit(
        type="access", email="sam.person@example.net", selfie=photos.photo("img5.jpg")
    )
    body = next(str(m.body) for m in reversed(mail.outbox) if req.reference in m.subject)
    services.request_verify(token=Journey.found(r"/rights/verify/([^/\s]+)/", body, 1))
    dpo = factories.staff("dpo", email="dpo@facesearch.example")
    secret = factories.with_totp(dpo)
    for candidate in req.candidates.filter(borderline=False):
        services.candidate_decide(candidate=candidate, confirm=True, actor=dpo)
    assert req.candidates.filter(status=Candidate.Status.CONFIRMED).count() >= 2

    from playwright.sync_api import sync_playwright

    name = "capture"
    shutil.rmtree(ARTIFACTS / name, ignore_errors=True)
    args = [
        *CHROMIUM_ARGS,
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={camera}",
    ]
    with sync_playwright() as pw:
        django_connections_checked()
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=args)
        try:
            context = browser.new_context(
                viewport={"width": 1280, "height": 800}, permissions=["camera"]
            )
            context.set_default_timeout(30_000)
            j = Journey(name=name, base=live_server.url, context=context, page=context.new_page())
            j.watch(j.page)
            page = j.page

            # The requester opens the status link from their email, then the capture page from there.
            j.goto(
                services.status_link(SubjectRequest.objects.get(pk=req.pk)).removeprefix(
                    live_server.url
                )
            )
            j.step("status page")
            page.get_by_role("link", name="Show us it is you, with your camera").click()
            page.wait_for_load_state("load")
            assert "/capture/" in page.url
            shown = page.locator("#capture-steps li").evaluate_all(
                "els => els.map(e => e.dataset.pose)"
            )
            assert [p for p in shown[1:] if p != "neutral"] == list(steps), (shown, steps)
            assert "Turn your head" in j.visible_text() or "Look" in j.visible_text()
            j.step("capture page: the challenge in words")
            page.get_by_role("button", name="Open my camera and start").click()
            page.locator("#capture[data-result]").wait_for(state="attached", timeout=60_000)
            assert page.locator("#capture").get_attribute("data-result") == "received", (
                j.visible_text()
            )
            status = page.locator("#capture-status").inner_text()
            assert "received" in status and "verified" not in status.lower()
            j.step("capture sent: received, the DPO will review", check_links=False)

            cap = LiveCapture.objects.get(request=req)
            assert cap.frame_count == len(shown)
            assert cap.passed, cap.report
            assert not identity_proven(request=req)

            # The DPO sees the frames beside the candidates and the checks, and accepts.
            staff = browser.new_context(viewport={"width": 1280, "height": 800})
            staff.set_default_timeout(30_000)
            d = Journey(
                name=name + "-dpo", base=live_server.url, context=staff, page=staff.new_page()
            )
            d.watch(d.page)
            d.log_in(dpo.email, totp_secret=secret)
            d.goto(f"/rights/dpo/{req.reference}/")
            section = d.page.locator("#live-captures")
            assert "every automated check passed" in section.inner_text()
            for check in (
                "pose_sequence",
                "live_motion",
                "same_person",
                "background",
                "reference_match",
            ):
                assert re.search(check, section.inner_text()), check
            d.wait_for_images()
            d.assert_images_load()
            d.step("DPO: live frames beside the confirmed candidates, with the checks")
            section.get_by_role("button", name=re.compile("^Accept")).click()
            d.page.wait_for_load_state("load")
            assert "frames are deleted" in d.visible_text()
            proof = IdentityProof.objects.get(request=req)
            assert proof.method == "live_capture" and proof.accepted
            cap.refresh_from_db()
            assert cap.deleted_at is not None
            d.step("DPO accepted: proof recorded, frames deleted")
            j.finish()
            d.finish()
            for journey in (j, d):
                journey.axe.check(journey.page)  # the page each ended on
            assert_accessible({j.name: j.axe, d.name: d.axe})
        finally:
            browser.close()


def test_a_person_without_a_camera_is_told_how_else_to_be_verified(journey, settings):
    """Input: the same request opened in a Chromium that has no camera at all (no fake device)."""
    settings.SITE_URL = journey.base
    index_photos("img2.jpg")
    req, _ = services.request_submit(
        type="access", email="no.camera@example.net", selfie=photos.photo("img5.jpg")
    )
    body = next(str(m.body) for m in reversed(mail.outbox) if req.reference in m.subject)
    services.request_verify(token=Journey.found(r"/rights/verify/([^/\s]+)/", body, 1))
    j, page = journey, journey.page
    j.goto(services.status_link(SubjectRequest.objects.get(pk=req.pk)).removeprefix(journey.base))
    page.get_by_role("link", name="Show us it is you, with your camera").click()
    page.wait_for_load_state("load")
    page.get_by_role("button", name="Open my camera and start").click()
    page.locator("#capture[data-result]").wait_for(state="attached", timeout=30_000)
    assert page.locator("#capture").get_attribute("data-result") == "no-camera"
    text = j.visible_text()
    assert (
        "We could not open a camera" in text
        and "a short video call" in text
        and req.reference in text
    )
    j.step("no camera: another way to be verified")
    assert not LiveCapture.objects.exists()
    j.finish()
