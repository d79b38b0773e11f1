"""The live capture checks (search/liveness/) with the real face model on synthetic captures built
from the shared photos (tests/search/liveness_frames.py says what a synthetic capture stands for).

Each capture is analysed once per check call; the captures are built once per module.
"""

from __future__ import annotations

import json
from random import Random

import numpy as np
import pytest

from search import engine, liveness
from tests.search import liveness_frames as frames_
from tests.search import photos

NOW_OFFSET = 20.0  # the capture arrives 20 s after the challenge was issued


def challenge(steps: tuple[str, ...], *, issued_at: float = 1_800_000_000.0) -> liveness.Challenge:
    """A challenge with fixed steps (the random ones are tested on their own below)."""
    made = liveness.challenge_new(rng=Random(0), now=issued_at)
    return liveness.Challenge(
        steps=steps, nonce=made.nonce, issued_at=made.issued_at, expires_at=made.expires_at
    )


def check(ch: liveness.Challenge, frames: list[bytes], **kwargs) -> liveness.CaptureReport:
    kwargs.setdefault("now", ch.issued_at + NOW_OFFSET)
    kwargs.setdefault("nonce_store", liveness.memory_nonce_store())
    return liveness.capture_check(challenge=ch, frames=frames, **kwargs)


def embedding_of(name: str) -> np.ndarray:
    faces = engine.analyse(engine.decode_image(photos.photo(name))).faces
    return max(faces, key=lambda f: f.box[2] * f.box[3]).embedding


@pytest.fixture(scope="module")
def genuine_img1() -> tuple[tuple[str, ...], list[bytes]]:
    """person01 (img1.jpg) looks at the camera, turns to their left, then right, then looks up."""
    steps = ("left", "right", "up")
    return steps, frames_.genuine("img1.jpg", steps, Random(11), holds=False)


# --- The challenge and its nonce ------------------------------------------------------------


def test_challenges_are_short_random_sequences_without_repeats_and_round_trip_through_json():
    seen_steps = set()
    nonces = set()
    for seed in range(200):
        ch = liveness.challenge_new(rng=Random(seed), now=1000.0)
        assert 2 <= len(ch.steps) <= 3 and set(ch.steps) <= set(liveness.DIRECTIONS)
        assert all(a != b for a, b in zip(ch.steps, ch.steps[1:], strict=False)), ch.steps
        assert ch.expires_at - ch.issued_at == liveness.CHALLENGE_TTL_SECONDS
        seen_steps.add(ch.steps)
        nonces.add(ch.nonce)
        assert liveness.Challenge.from_dict(json.loads(json.dumps(ch.to_dict()))) == ch
        assert ch.nonce not in repr(ch)
    assert len(nonces) == 200  # the nonce never comes from the seeded rng
    assert len(seen_steps) > 30  # 12 two-step and 36 three-step sequences exist


@pytest.mark.parametrize(
    "change",
    [
        {"steps": ["left", "left"]},
        {"steps": ["left"]},
        {"steps": ["sideways", "up"]},
        {"nonce": "short"},
        {"expires_at": 0},
    ],
    ids=["repeat", "one step", "unknown pose", "short nonce", "expires before issued"],
)
def test_a_tampered_challenge_dict_is_refused(change):
    data = liveness.challenge_new(now=1000.0).to_dict() | change
    with pytest.raises(ValueError):
        liveness.Challenge.from_dict(data)


def test_a_nonce_is_consumed_once_in_the_projects_cache():
    """The default store is Django's cache (Redis): the second use of a nonce is refused."""
    ch = liveness.challenge_new()
    assert liveness.nonce_consume(challenge=ch) is True
    assert liveness.nonce_consume(challenge=ch) is False
    assert liveness.nonce_consume(challenge=liveness.challenge_new()) is True


# --- Genuine captures ------------------------------------------------------------------------


def test_a_genuine_synthetic_capture_passes_every_check(genuine_img1):
    steps, frames = genuine_img1
    ch = challenge(steps)
    times = [ch.issued_at + 3 + i for i in range(len(frames))]
    report = check(ch, frames, captured_at=times)
    assert report.passed, report.to_dict()
    assert report.flags == []
    assert [f.pose for f in report.frames] == ["neutral", "left", "right", "up"]
    names = {c.name for c in report.checks}
    assert {
        "one_face",
        "pose_sequence",
        "live_motion",
        "same_person",
        "background",
        "light",
        "frame_times",
    } <= names
    # The report is numbers, booleans and short texts: JSON as it is, no pixels, no embedding.
    text = json.dumps(report.to_dict())
    assert len(text) < 8000 and ch.nonce not in text


def test_a_genuine_capture_of_another_person_with_holds_passes():
    """person03 (img8.jpg), a random challenge, each pose held for two frames."""
    ch = liveness.challenge_new(rng=Random(5), now=1_800_000_000.0)
    frames = frames_.genuine("img8.jpg", ch.steps, Random(12), holds=True)
    report = check(ch, frames)
    assert report.passed, report.to_dict()


def test_the_live_face_matches_the_requests_candidates_only_when_they_are_the_same_person(
    genuine_img1,
):
    """References: other photos of person01 (img2, img4) pass; photos of person02 (img3, img12) fail."""
    steps, frames = genuine_img1
    same = check(
        challenge(steps),
        frames,
        reference_embeddings=[embedding_of("img2.jpg"), embedding_of("img4.jpg")],
    )
    assert same.passed and same.check("reference_match").passed, same.to_dict()
    assert len(same.reference_distances) == 2
    other = check(
        challenge(steps),
        frames,
        reference_embeddings=[embedding_of("img3.jpg"), embedding_of("img12.jpg")],
    )
    assert not other.passed and other.flags == ["reference_mismatch"], other.to_dict()


def test_a_capture_recorded_for_one_challenge_fails_another(genuine_img1):
    """The genuine frames (left, right, up) replayed against a challenge asking right, left, up."""
    _, frames = genuine_img1
    report = check(challenge(("right", "left", "up")), frames)
    assert not report.passed and report.flags == ["pose_mismatch"], report.to_dict()
    assert report.check("pose_sequence").value == 0.0


# --- Attacks -------------------------------------------------------------------------------


def test_a_still_replayed_for_every_frame_is_flagged():
    """One photo of person01 shown for 5 frames, each with fresh camera noise (no two frames alike in bytes)."""
    report = check(challenge(("left", "up")), frames_.replayed_still("img1.jpg", 5, Random(3)))
    assert not report.passed
    assert "replayed_still" in report.flags and "pose_mismatch" in report.flags, report.to_dict()


def test_identical_frames_are_flagged_as_a_replayed_still():
    """The same JPEG bytes five times."""
    still = frames_.jpeg(frames_.scene("img1.jpg").pixels)
    report = check(challenge(("left", "up")), [still] * 5)
    assert not report.passed and "replayed_still" in report.flags
    assert report.check("live_motion").value == 0.0


def test_a_set_of_different_photos_of_the_target_is_flagged():
    """Four different photos of person01 (img1, img2, img4, img5), one per frame."""
    frames = frames_.different_photos(["img1.jpg", "img2.jpg", "img4.jpg", "img5.jpg"], Random(4))
    report = check(challenge(("left", "right")), frames)
    assert not report.passed
    assert "background_changed" in report.flags, report.to_dict()
    assert report.check("same_person").passed  # they are one person: the scene gives the set away


def test_frames_of_two_people_are_flagged():
    """person01 (img1) and person02 (img3) alternating in one scene, posing as asked."""
    steps = ("up", "left")
    report = check(challenge(steps), frames_.two_people("img1.jpg", "img3.jpg", steps, Random(6)))
    assert not report.passed
    assert "identity_changed" in report.flags, report.to_dict()
    assert report.check("background").passed  # one scene: only the identity gives it away


def test_an_expired_challenge_is_flagged_without_face_work(genuine_img1):
    """The genuine frames sent 10 s after the challenge expired."""
    steps, frames = genuine_img1
    ch = challenge(steps)
    report = check(ch, frames, now=ch.expires_at + 10)
    assert not report.passed and report.flags == ["stale_challenge"], report.to_dict()
    assert not report.check("one_face").evaluated and report.frames == ()


def test_a_reused_nonce_is_flagged(genuine_img1):
    """The same challenge and frames submitted twice against the project's cache: the first passes."""
    steps, frames = genuine_img1
    ch = challenge(steps)
    first = liveness.capture_check(challenge=ch, frames=frames, now=ch.issued_at + NOW_OFFSET)
    second = liveness.capture_check(challenge=ch, frames=frames, now=ch.issued_at + NOW_OFFSET + 1)
    assert first.passed, first.to_dict()
    assert not second.passed and second.flags == ["nonce_invalid"]


@pytest.mark.parametrize(
    ("nonce", "times"),
    [
        ("wrong-nonce-from-another-challenge", None),
        (None, "before"),
        (None, "after"),
        (None, "out of order"),
    ],
    ids=[
        "another challenge's nonce",
        "captured before the challenge",
        "captured after receipt",
        "capture times out of order",
    ],
)
def test_frames_not_bound_to_the_challenge_are_refused(genuine_img1, nonce, times):
    steps, frames = genuine_img1
    ch = challenge(steps)
    start = {"before": ch.issued_at - 60, "after": ch.issued_at + NOW_OFFSET + 30}.get(
        times, ch.issued_at + 1
    )
    captured = [start + i for i in range(len(frames))]
    if times == "out of order":
        captured.reverse()
    report = check(ch, frames, nonce=nonce, captured_at=captured)
    assert not report.passed
    assert report.flags == (["nonce_invalid"] if nonce else ["frame_time_outside"]), (
        report.to_dict()
    )


# --- Bad input: a clear failure, never an exception --------------------------------------------


@pytest.mark.parametrize(
    ("make", "flag"),
    [
        (lambda good: [], "bad_frames"),
        (lambda good: good[:3], "bad_frames"),
        (lambda good: (good * 5)[:20], "bad_frames"),
        (lambda good: [photos.truncated_jpeg(), *good[1:]], "bad_frames"),
        (lambda good: [photos.NOT_AN_IMAGE, *good[1:]], "bad_frames"),
        (lambda good: [photos.huge_jpeg(8), *good[1:]], "bad_frames"),
        (lambda good: [photos.png_bomb(), *good[1:]], "bad_frames"),
        (lambda good: [good[0], "not bytes", *good[2:]], "bad_frames"),
        (lambda good: b"".join(good), "bad_frames"),
    ],
    ids=[
        "0 frames",
        "3 frames",
        "20 frames",
        "a truncated JPEG",
        "a PDF",
        "an 8 MB frame",
        "a pixel bomb",
        "a string",
        "one blob",
    ],
)
def test_frames_we_cannot_use_are_refused_cheaply(genuine_img1, make, flag):
    steps, frames = genuine_img1
    report = check(challenge(steps), make(frames))
    assert not report.passed and report.flags == [flag], report.to_dict()
    assert all(
        not c.evaluated
        for c in report.checks
        if c.name in {"one_face", "pose_sequence", "same_person"}
    )


def test_a_frame_without_a_face_or_with_two_faces_fails_the_face_count(genuine_img1):
    """Frame 2 replaced by a gradient with no face, frame 3 by couple.jpg (two people)."""
    steps, frames = genuine_img1
    report = check(
        challenge(steps), [frames[0], photos.no_face_png(), photos.photo("couple.jpg"), frames[3]]
    )
    assert not report.passed and report.flags == ["face_count"], report.to_dict()
    assert [f.faces for f in report.frames][:3] == [1, 0, 2]
    assert "frame 2: 0 faces" in report.check("one_face").detail


def test_unusable_reference_embeddings_fail_the_reference_check(genuine_img1):
    """References of the wrong length, NaN, or zero: none usable, so nothing is matched."""
    steps, frames = genuine_img1
    report = check(
        challenge(steps),
        frames,
        reference_embeddings=[np.zeros(128), np.full(128, np.nan), np.ones(5)],
    )
    assert not report.passed and not report.check("reference_match").evaluated


# --- The fake camera file -------------------------------------------------------------------


def test_y4m_file_holds_the_frames_for_chromiums_fake_camera(tmp_path):
    s = frames_.scene("img1.jpg")
    pixels = [s.pixels, frames_.posed(s, 25, 0)]
    path = frames_.write_y4m(tmp_path / "capture.y4m", pixels, fps=5, repeat=3)
    data = path.read_bytes()
    assert data.startswith(b"YUV4MPEG2 W640 H480 F5:1 Ip A1:1 C420jpeg\n")
    assert data.count(b"FRAME\n") == 6
    back = frames_.read_y4m(path)
    assert len(back) == 6
    for original, decoded in ((pixels[0], back[0]), (pixels[1], back[5])):
        assert (
            np.abs(original.astype(int) - decoded.astype(int)).mean() < 4
        )  # 4:2:0 loses some colour
