"""Server-side checks of a live camera capture: is the person in front of the camera there now,
doing what we asked, and the person whose photos a subject request located?

A rights-portal page asks for a :class:`Challenge` (``challenge_new``): two or three head poses in
a random order (``left``, ``right``, ``up``, ``down``, never the same twice in a row) and a one-time
nonce, valid for ``CHALLENGE_TTL_SECONDS``. The browser films the person with ``getUserMedia`` and
sends 4 to 8 frames: one looking at the camera, then at least one per asked pose, in order.
``capture_check`` decodes them (``engine.decode_image``: the upload limits apply), analyses every
frame once through the face adapter (``engine.analyse_many``: detection, alignment, embedding, the
same embeddings the index stores) and measures:

====================  ==========================  ===========================================================
check                 flag when it fails          what is measured (value against threshold)
====================  ==========================  ===========================================================
``frames``            ``bad_frames``              4 to 8 frames, each a photo we can decode
``challenge_fresh``   ``stale_challenge``         seconds since the challenge was issued, at most its lifetime
``nonce_valid``       ``nonce_invalid``           the nonce is the challenge's and was never used before
``frame_times``       ``frame_time_outside``      (when the caller gives capture times) every frame inside the
                                                  challenge's window, in order
``one_face``          ``face_count``              exactly one usable face in every frame
``pose_sequence``     ``pose_mismatch``           the frames show the asked poses, in order and nothing else,
                                                  each beyond a threshold from the first (neutral) frame
``live_motion``       ``replayed_still``          consecutive frame pairs where the face changed shape or pose, at least
                                                  one per asked pose
``same_person``       ``identity_changed``        largest embedding distance of a frame to the first frame
``background``        ``background_changed``      smallest structural similarity (SSIM) of the scene outside
                                                  the face between consecutive frames
``light``             ``light_changed``           largest change of the scene's mean brightness between
                                                  consecutive frames
``reference_match``   ``reference_mismatch``      (when the caller gives reference embeddings) distance of the
                                                  first frame to the nearest reference
====================  ==========================  ===========================================================

``CaptureReport.passed`` is true only when every required check was evaluated and passed; ``flags``
names the failed ones. The report holds numbers, booleans and short texts only: never a frame, a
face crop or an embedding, so it can be stored, logged and shown to the DPO as an aid beside the
frames themselves (which the caller keeps encrypted until the DPO decides).

Pose is read from dlib's 68 landmarks (``engine._landmark_predictor``): the nose tip's offset from
the eye midpoint along the eye line, over the inter-ocular distance (yaw), and the nose tip's depth
between the eye line and the mouth (pitch). A person's "left" is their own left: in the camera's
unmirrored frame their nose moves toward the right edge of the image. With a face model other than
dlib's, no landmarks are available and the pose and motion checks fail as "not evaluated".

What these checks cannot do: they see 4 to 8 frames, not a video, and they do not detect a screen
or a print held to the camera, a mask, a deepfake, or frames injected by a modified browser (a
virtual camera). They make a free face search with someone else's photo costly, not impossible;
the DPO's review of the frames beside the candidates is the decision. Their thresholds were set on
synthetic captures (``bench/liveness.py``, docs/faces.md "Live capture checks"), not on real cameras.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import math
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from random import Random
from typing import Any

import numpy as np

from search import engine

logger = logging.getLogger(__name__)

DIRECTIONS = ("left", "right", "up", "down")
CHALLENGE_TTL_SECONDS = 120
MIN_STEPS, MAX_STEPS = 2, 3
MIN_FRAMES, MAX_FRAMES = 4, 8
# A webcam frame as JPEG is 50-300 kB; 4 MB bounds the work one capture can cause well under the
# general upload limit (FACE_IMAGE_MAX_BYTES), which decode_image applies as well.
FRAME_MAX_BYTES = 4 * 1024 * 1024
# Browser and server clocks differ; a capture time may be this far outside the challenge's window.
CLOCK_SKEW_SECONDS = 5.0
NONCE_KEY_PREFIX = "liveness:nonce:"

NonceStore = Callable[[str, int], bool]


@dataclass(frozen=True)
class Thresholds:
    """The decision thresholds. Set on synthetic captures (bench/liveness.py); see the module's
    docstring for what that cannot tell about real cameras."""

    # Pose, relative to the first frame. yaw: nose-tip shift along the eye line / inter-ocular
    # distance, either way; up / down: change of the nose tip's position between the eye line (0) and
    # the mouth (1). On an average face (nose tip about 25 mm in front of the eyes, 63 mm between
    # them) 0.04 is a turn of about 6 degrees. Synthetic turns of 20-28 degrees read 0.04-0.12
    # sideways, 0.12-0.18 up and only 0.045-0.09 down, and a sideways turn leaks up to 0.05 into
    # "up": hence the higher threshold for up. Low on purpose: the order of the poses, not their
    # size, is what a replay cannot know in advance.
    yaw: float = 0.04
    up: float = 0.06
    down: float = 0.04
    # A pair of consecutive frames "moved" when the face's landmarks changed shape by at least this
    # share of the inter-ocular distance (mean residual after the best similarity transform: moving
    # a photo about, nearer or tilted in its plane does not count) and its pixels by at least
    # ``still_pixels`` grey levels on average. Synthetic camera noise on a still reads 0.006-0.015;
    # a change of pose 0.024-0.076. A pair whose pose reading changed (``_pose_label``) moved too. A
    # capture needs at least one moved pair per asked pose.
    moved_landmarks: float = 0.018
    still_pixels: float = 0.75
    # Scene outside the face (and the hair and body under it) between consecutive frames.
    background_ssim: float = 0.5
    light_change: float = 0.12  # share of the full grey range
    min_background_share: float = 0.15  # of the frame; less leaves nothing to compare
    # Embedding distances; None: from the calibration (``_thresholds``).
    same_person: float | None = None
    reference: float | None = None


# --- Challenge and nonce ----------------------------------------------------------------


@dataclass(frozen=True)
class Challenge:
    """What the person is asked to do, and the one-time nonce that binds their frames to it.

    Times are Unix seconds on the server's clock. ``to_dict``/``from_dict`` round-trip it through
    JSON (a session or a request row); the nonce is a secret for its lifetime, so it is left out of
    ``repr`` and logs.
    """

    steps: tuple[str, ...]
    nonce: str = field(repr=False)
    issued_at: float
    expires_at: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "steps": list(self.steps),
            "nonce": self.nonce,
            "issued_at": self.issued_at,
            "expires_at": self.expires_at,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Challenge:
        steps = tuple(str(s) for s in data["steps"])
        if not MIN_STEPS <= len(steps) <= MAX_STEPS or any(s not in DIRECTIONS for s in steps):
            raise ValueError(
                f"a challenge has {MIN_STEPS} to {MAX_STEPS} steps among {', '.join(DIRECTIONS)}"
            )
        if any(a == b for a, b in itertools.pairwise(steps)):
            raise ValueError("a challenge never asks the same pose twice in a row")
        issued, expires = float(data["issued_at"]), float(data["expires_at"])
        if not expires > issued:
            raise ValueError("a challenge expires after it is issued")
        nonce = str(data["nonce"])
        if len(nonce) < 16:
            raise ValueError("a challenge's nonce has at least 16 characters")
        return cls(steps=steps, nonce=nonce, issued_at=issued, expires_at=expires)


def challenge_new(
    *,
    rng: Random | None = None,
    now: float | datetime | None = None,
    ttl: int = CHALLENGE_TTL_SECONDS,
) -> Challenge:
    """A random 2-3 step pose challenge (no immediate repeats) with a fresh one-time nonce.

    ``rng`` chooses the steps (default: the OS's randomness; pass a seeded ``random.Random`` in
    benchmarks); the nonce always comes from ``secrets``.
    """
    chooser = rng if rng is not None else secrets.SystemRandom()
    count = chooser.randint(MIN_STEPS, MAX_STEPS)
    steps: list[str] = []
    while len(steps) < count:
        step = chooser.choice([d for d in DIRECTIONS if not steps or d != steps[-1]])
        steps.append(step)
    issued = _seconds(now) if now is not None else time.time()
    return Challenge(
        steps=tuple(steps),
        nonce=secrets.token_urlsafe(24),
        issued_at=issued,
        expires_at=issued + ttl,
    )


def _nonce_key(nonce: str) -> str:
    # The store sees a digest, never the token itself.
    return NONCE_KEY_PREFIX + hashlib.sha256(nonce.encode()).hexdigest()


def _cache_add(key: str, timeout: int) -> bool:
    from django.core.cache import cache

    return bool(cache.add(key, 1, timeout=timeout))


def nonce_consume(
    *, challenge: Challenge, store: NonceStore | None = None, now: float | datetime | None = None
) -> bool:
    """Mark the challenge's nonce used; False when it was used before.

    ``store(key, timeout_seconds)`` must add ``key`` atomically and say whether it was new (the
    default is Django's ``cache.add``, Redis in this project). The key outlives the challenge, so a
    nonce can never be used twice while the challenge could still be accepted.
    """
    add = store if store is not None else _cache_add
    current = _seconds(now) if now is not None else time.time()
    timeout = max(60, math.ceil(challenge.expires_at - current + CLOCK_SKEW_SECONDS) + 60)
    return bool(add(_nonce_key(challenge.nonce), timeout))


def memory_nonce_store() -> NonceStore:
    """A process-local nonce store (benchmarks, scripts): never for the web process."""
    seen: set[str] = set()

    def add(key: str, timeout: int) -> bool:
        if key in seen:
            return False
        seen.add(key)
        return True

    return add


def _seconds(value: float | datetime) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


# --- The report -------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    """One check: its measured value against its threshold. ``evaluated`` is False when an earlier
    failure left nothing to measure (the check then does not pass)."""

    name: str
    flag: str
    passed: bool
    required: bool = True
    evaluated: bool = True
    value: float | None = None
    threshold: float | None = None
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FrameMeasure:
    """The numbers measured on one frame (no pixels, no embedding)."""

    index: int
    faces: int
    yaw: float | None = None  # nose-tip shift along the eye line / inter-ocular distance
    pitch: float | None = None  # nose tip between the eye line (0) and the mouth (1)
    pose: str = ""  # neutral / left / right / up / down, relative to the first frame
    distance_to_first: float | None = None
    error: str = ""  # why a frame could not be used (a decode refusal's code)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CaptureReport:
    """The outcome of ``capture_check``: numbers and booleans for the DPO and the audit log."""

    steps: tuple[str, ...]
    checks: tuple[CheckResult, ...]
    frames: tuple[FrameMeasure, ...] = ()
    reference_distances: tuple[float, ...] = ()
    elapsed_seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return all(c.passed and c.evaluated for c in self.checks if c.required)

    @property
    def flags(self) -> list[str]:
        return [c.flag for c in self.checks if c.required and c.evaluated and not c.passed]

    def check(self, name: str) -> CheckResult:
        for item in self.checks:
            if item.name == name:
                return item
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "flags": self.flags,
            "steps": list(self.steps),
            "checks": [c.to_dict() for c in self.checks],
            "frames": [f.to_dict() for f in self.frames],
            "reference_distances": list(self.reference_distances),
            "elapsed_seconds": self.elapsed_seconds,
        }


# --- Per-frame geometry -----------------------------------------------------------------


@dataclass
class _Frame:
    index: int
    image: engine.DecodedImage | None = None
    grey: np.ndarray | None = None
    boxes: list[tuple[int, int, int, int]] = field(default_factory=list)
    rejected: int = 0
    embedding: np.ndarray | None = None
    landmarks: np.ndarray | None = None  # (68, 2) float, in the frame's pixels
    error: str = ""


def face_landmarks(image: engine.DecodedImage, box: tuple[int, int, int, int]) -> np.ndarray | None:
    """dlib's 68 landmarks of the face in ``box`` (x, y, w, h), or None with a non-dlib model."""
    eng = engine._engine(engine.model_name(), engine.detector_name())
    dlib = eng.get("dlib")
    if dlib is None:
        return None
    predictor = engine._landmark_predictor(eng, 68)
    x, y, w, h = box
    shape = predictor(image.pixels, dlib.rectangle(int(x), int(y), int(x + w), int(y + h)))
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)


def pose_measures(landmarks: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, inter-ocular distance) of one face's 68 landmarks.

    yaw: the nose tip's offset from the eye midpoint along the eye line, over the inter-ocular
    distance (positive toward the image's right edge: the person turns to their own left). pitch:
    where the nose tip sits between the eye line (0) and the mouth (1) across the eye line; looking
    up brings the nose tip toward the eyes (smaller), looking down toward the mouth (larger). Both
    are measured in the eye line's frame, so a tilted head (roll) does not read as a turn.
    """
    left_eye, right_eye = landmarks[36:42].mean(axis=0), landmarks[42:48].mean(axis=0)
    nose, mouth = landmarks[30], landmarks[48:68].mean(axis=0)
    axis = right_eye - left_eye
    iod = float(np.linalg.norm(axis))
    if iod < 1e-6:
        return 0.0, 0.0, 0.0
    ex = axis / iod
    ey = np.array([-ex[1], ex[0]])  # perpendicular, pointing down the face
    mid = (left_eye + right_eye) / 2
    yaw = float(np.dot(nose - mid, ex) / iod)
    mouth_depth = float(np.dot(mouth - mid, ey))
    pitch = float(np.dot(nose - mid, ey) / mouth_depth) if abs(mouth_depth) > 1e-6 else 0.0
    return yaw, pitch, iod


def _grey(pixels: np.ndarray) -> np.ndarray:
    return (pixels[..., 0] * 0.299 + pixels[..., 1] * 0.587 + pixels[..., 2] * 0.114).astype(
        np.float32
    )


def _decode(index: int, data: Any) -> _Frame:
    frame = _Frame(index=index)
    if not isinstance(data, bytes | bytearray | memoryview):
        frame.error = "not_bytes"
        return frame
    if len(data) > FRAME_MAX_BYTES:
        frame.error = "too_large"
        return frame
    try:
        frame.image = engine.decode_image(bytes(data))
    except engine.ImageRejected as exc:
        frame.error = exc.code
        return frame
    frame.grey = _grey(frame.image.pixels)
    return frame


def _analyse(frames: list[_Frame]) -> None:
    images = [f.image for f in frames if f.image is not None]
    analyses = engine.analyse_many(images)
    usable = [f for f in frames if f.image is not None]
    for frame, analysis in zip(usable, analyses, strict=True):
        frame.boxes = [face.box for face in analysis.faces]
        frame.rejected = len(analysis.rejected)
        if len(analysis.faces) == 1:
            frame.embedding = analysis.faces[0].embedding
            assert frame.image is not None
            frame.landmarks = face_landmarks(frame.image, analysis.faces[0].box)


# --- Scene comparisons ------------------------------------------------------------------

_SCENE_WIDTH, _SCENE_HEIGHT = 160, 120


def _scene(frame: _Frame) -> tuple[np.ndarray, np.ndarray]:
    """The frame in grey at 160x120 and the mask of the scene outside the person (True: scene).

    The face box is widened by half its width on each side and half its height above (hair), and
    runs down to the bottom edge (neck, shoulders): the parts that move when a person turns.
    """
    import cv2

    assert frame.grey is not None
    height, width = frame.grey.shape
    small = cv2.resize(frame.grey, (_SCENE_WIDTH, _SCENE_HEIGHT), interpolation=cv2.INTER_AREA)
    mask = np.ones((_SCENE_HEIGHT, _SCENE_WIDTH), dtype=bool)
    sx, sy = _SCENE_WIDTH / width, _SCENE_HEIGHT / height
    for x, y, w, h in frame.boxes:
        x0, x1 = int((x - 0.5 * w) * sx), math.ceil((x + 1.5 * w) * sx)
        y0 = int((y - 0.5 * h) * sy)
        mask[max(0, y0) :, max(0, x0) : max(0, x1)] = False
    return small, mask


def _ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    import cv2

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    blur = lambda img: cv2.GaussianBlur(img, (7, 7), 1.5)  # noqa: E731
    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a * mu_a
    var_b = blur(b * b) - mu_b * mu_b
    cov = blur(a * b) - mu_a * mu_b
    return ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / (
        (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    )


def _scene_change(first: _Frame, second: _Frame) -> tuple[float, float, float]:
    """(SSIM, brightness change as a share of 255, share of the frame compared) outside the person."""
    a, mask_a = _scene(first)
    b, mask_b = _scene(second)
    mask = mask_a & mask_b
    share = float(mask.mean())
    if share == 0.0:
        return 0.0, 1.0, 0.0
    ssim = float(_ssim_map(a, b)[mask].mean())
    light = abs(float(a[mask].mean()) - float(b[mask].mean())) / 255.0
    return ssim, light, share


def shape_change(first: np.ndarray, second: np.ndarray) -> float:
    """How much a face's landmarks changed shape between two frames: the mean distance left after
    the best similarity transform (shift, rotation in the image plane, scale) maps ``second`` onto
    ``first``, over the inter-ocular distance. A photo moved about reads as noise; a head that
    turns does not, because its nose moves against its eyes and jaw."""
    _, _, iod = pose_measures(first)
    if not iod:
        return 0.0
    a = first - first.mean(axis=0)
    b = second - second.mean(axis=0)
    za, zb = a[:, 0] + 1j * a[:, 1], b[:, 0] + 1j * b[:, 1]
    norm = np.vdot(zb, zb)
    scale = np.vdot(zb, za) / norm if abs(norm) > 0 else 0.0  # least squares: rotation and scale
    return float(np.abs(za - scale * zb).mean() / iod)


def _face_change(first: _Frame, second: _Frame) -> tuple[float, float]:
    """(shape_change of the landmarks, mean grey change of the face's pixels) between two frames."""
    import cv2

    assert first.landmarks is not None and second.landmarks is not None
    assert first.grey is not None and second.grey is not None
    motion = shape_change(first.landmarks, second.landmarks)
    if first.grey.shape != second.grey.shape:
        return motion, 255.0
    x, y, w, h = first.boxes[0]
    x2, y2, w2, h2 = second.boxes[0]
    left, top = max(0, min(x, x2)), max(0, min(y, y2))
    right, bottom = max(x + w, x2 + w2), max(y + h, y2 + h2)
    crop_a = cv2.GaussianBlur(first.grey[top:bottom, left:right], (3, 3), 0)
    crop_b = cv2.GaussianBlur(second.grey[top:bottom, left:right], (3, 3), 0)
    if crop_a.size == 0:
        return motion, 0.0
    return motion, float(np.abs(crop_a - crop_b).mean())


# --- The check --------------------------------------------------------------------------


def _thresholds(given: Thresholds | None) -> tuple[Thresholds, float, float]:
    """(thresholds, same-person distance, reference distance), the distances from the calibration
    where not given.

    Same person across the frames: the candidate band's one-to-one point
    (``threshold_for(1, point="candidate")``, a per-comparison false-match rate of 1e-2). The frames
    are seconds apart in one light, so what separates a genuine capture's faces is the pose alone,
    which costs the strict point's recall (head turns of 25 degrees cross it); a second person must
    pass for every frame. The live face against the request's candidates: the distance at a
    per-comparison false-match rate of 1e-3 (``Calibration.threshold``), since that match releases
    data.
    """
    from search.calibration import calibration_for

    chosen = given or Thresholds()
    same, reference = chosen.same_person, chosen.reference
    if same is None or reference is None:
        calibration = calibration_for(engine.model_name())
        same = same if same is not None else calibration.threshold_for(1, point="candidate")
        reference = reference if reference is not None else float(calibration.threshold)
    return chosen, float(same), float(reference)


def _frame_list(frames: Any) -> list[Any]:
    """The frames as a list; anything that is not a sequence of frames counts as no frames."""
    if frames is None or isinstance(frames, bytes | bytearray | memoryview | str):
        return []
    try:
        return list(frames)
    except TypeError:
        return []


def _floats(values: Any) -> list[float]:
    """Capture times as floats; anything unreadable gives a time no window holds."""
    try:
        return [float(x) for x in values]
    except (TypeError, ValueError):
        return [math.nan]


def _vector(value: Any) -> np.ndarray | None:
    """A reference embedding as a finite, non-zero float vector, or None."""
    try:
        vec = np.asarray(value, dtype=np.float32).ravel()
    except (TypeError, ValueError):
        return None
    if not vec.size or not np.all(np.isfinite(vec)) or float(np.linalg.norm(vec)) == 0.0:
        return None
    return vec


def _not_evaluated(name: str, flag: str, why: str, *, required: bool = True) -> CheckResult:
    return CheckResult(
        name=name,
        flag=flag,
        passed=False,
        required=required,
        evaluated=False,
        detail=f"not evaluated: {why}",
    )


def _pose_label(d_yaw: float, d_pitch: float, t: Thresholds) -> str:
    """The pose of a frame relative to the first: the stronger of the two movements past its threshold.

    Positive d_yaw: the nose moved toward the image's right edge = the person turned to their left.
    Positive d_pitch: the nose tip moved toward the eyes = the person looked up.
    """
    yaw_score, pitch_score = abs(d_yaw) / t.yaw, abs(d_pitch) / (t.up if d_pitch > 0 else t.down)
    if max(yaw_score, pitch_score) < 1.0:
        return "neutral"
    if yaw_score >= pitch_score:
        return "left" if d_yaw > 0 else "right"
    return "up" if d_pitch > 0 else "down"


def capture_check(
    *,
    challenge: Challenge,
    frames: Sequence[bytes],
    captured_at: Sequence[float] | None = None,
    now: float | datetime | None = None,
    reference_embeddings: Sequence[np.ndarray] | None = None,
    nonce: str | None = None,
    nonce_store: NonceStore | None = None,
    thresholds: Thresholds | None = None,
) -> CaptureReport:
    """Check a live capture against its challenge; never raises on bad input (the report says why).

    ``frames``: 4-8 JPEG/PNG/WebP images, the first looking at the camera, then the asked poses in
    order. ``captured_at``: the browser's capture time of each frame (Unix seconds; a consistency
    check only, since the browser controls it). ``now``: the server's time of receipt (default:
    the clock). ``reference_embeddings``: the request's confirmed candidates; without them there is
    no reference check and ``passed`` says nothing about whose face it is, so a caller that releases
    anything on the strength of the capture must pass them. ``nonce``: the nonce the browser sent back (compared with the
    challenge's in constant time). ``nonce_store``: see ``nonce_consume``; the nonce is consumed by
    this call, whether the capture passes or not, so every attempt needs a new challenge.
    """
    started = time.perf_counter()
    t, same_threshold, reference_threshold = _thresholds(thresholds)
    received = _seconds(now) if now is not None else time.time()
    checks: list[CheckResult] = []
    frame_list = _frame_list(frames)
    references = list(reference_embeddings) if reference_embeddings is not None else None

    def report(
        frame_measures: Sequence[FrameMeasure] = (), distances: Sequence[float] = ()
    ) -> CaptureReport:
        result = CaptureReport(
            steps=challenge.steps,
            checks=tuple(checks),
            frames=tuple(frame_measures),
            reference_distances=tuple(distances),
            elapsed_seconds=round(time.perf_counter() - started, 3),
        )
        logger.info(
            "live capture checked: passed=%s flags=%s frames=%s",
            result.passed,
            result.flags,
            len(frame_list),
        )
        return result

    # Freshness, the nonce and the capture times come first: a stale or replayed submission costs no
    # face analysis.
    age = received - challenge.issued_at
    lifetime = challenge.expires_at - challenge.issued_at
    fresh = challenge.issued_at - CLOCK_SKEW_SECONDS <= received <= challenge.expires_at
    checks.append(
        CheckResult(
            name="challenge_fresh",
            flag="stale_challenge",
            passed=fresh,
            value=round(age, 3),
            threshold=lifetime,
            detail=f"received {age:.0f} s after the challenge was issued; it is valid for {lifetime:.0f} s",
        )
    )
    matches = nonce is None or secrets.compare_digest(str(nonce).encode(), challenge.nonce.encode())
    unused = (
        nonce_consume(challenge=challenge, store=nonce_store, now=received) if matches else False
    )
    checks.append(
        CheckResult(
            name="nonce_valid",
            flag="nonce_invalid",
            passed=matches and unused,
            value=float(matches and unused),
            threshold=1.0,
            detail="the challenge's nonce, first use"
            if matches and unused
            else (
                "the nonce is not this challenge's" if not matches else "the nonce was used before"
            ),
        )
    )
    count = len(frame_list)
    count_ok = MIN_FRAMES <= count <= MAX_FRAMES
    if captured_at is not None:
        times = _floats(captured_at)
        in_window = (
            len(times) == count
            and all(
                challenge.issued_at - CLOCK_SKEW_SECONDS
                <= x
                <= min(received, challenge.expires_at) + CLOCK_SKEW_SECONDS
                for x in times
            )
            and all(a <= b for a, b in itertools.pairwise(times))
        )
        finite = [x for x in times if math.isfinite(x)]
        span = (max(finite) - min(finite)) if finite else 0.0
        checks.append(
            CheckResult(
                name="frame_times",
                flag="frame_time_outside",
                passed=in_window,
                value=round(span, 3),
                threshold=lifetime,
                detail=f"{len(times)} capture times over {span:.1f} s, "
                + (
                    "in order, inside the challenge's window"
                    if in_window
                    else "not all in order inside the challenge's window"
                ),
            )
        )
    frame_names = ("one_face", "pose_sequence", "live_motion", "same_person", "background", "light")
    frame_flags = (
        "face_count",
        "pose_mismatch",
        "replayed_still",
        "identity_changed",
        "background_changed",
        "light_changed",
    )
    if not count_ok:
        checks.append(
            CheckResult(
                name="frames",
                flag="bad_frames",
                passed=False,
                value=float(count),
                threshold=float(MAX_FRAMES if count > MAX_FRAMES else MIN_FRAMES),
                detail=f"{count} frames received; {MIN_FRAMES} to {MAX_FRAMES} are needed",
            )
        )
    in_time = (
        fresh and matches and unused and all(c.passed for c in checks if c.name == "frame_times")
    )
    if not count_ok or not in_time:
        why = (
            "the frames were refused"
            if not count_ok
            else "the capture is not fresh or not bound to this challenge"
        )
        checks.extend(
            _not_evaluated(n, f, why) for n, f in zip(frame_names, frame_flags, strict=True)
        )
        if references is not None:
            checks.append(_not_evaluated("reference_match", "reference_mismatch", why))
        return report()

    decoded = [_decode(i, data) for i, data in enumerate(frame_list)]
    bad = [f for f in decoded if f.error]
    checks.append(
        CheckResult(
            name="frames",
            flag="bad_frames",
            passed=not bad,
            value=float(len(decoded) - len(bad)),
            threshold=float(len(decoded)),
            detail=f"{len(decoded)} frames, all decoded"
            if not bad
            else "; ".join(f"frame {f.index + 1}: {f.error}" for f in bad),
        )
    )
    if bad:
        # A capture with a frame we cannot read is refused whole: no face work on the rest.
        why = "a frame could not be decoded"
        checks.extend(
            _not_evaluated(n, f, why) for n, f in zip(frame_names, frame_flags, strict=True)
        )
        if references is not None:
            checks.append(_not_evaluated("reference_match", "reference_mismatch", why))
        return report([FrameMeasure(index=f.index, faces=0, error=f.error) for f in decoded])
    try:
        _analyse(decoded)
    except (
        Exception
    ):  # the face model failed on something decode_image accepted: a refusal, never a 500
        logger.exception("face analysis of a live capture failed")
        checks.extend(
            _not_evaluated(n, f, "the face analysis failed")
            for n, f in zip(frame_names, frame_flags, strict=True)
        )
        if references is not None:
            checks.append(
                _not_evaluated("reference_match", "reference_mismatch", "the face analysis failed")
            )
        return report(
            [FrameMeasure(index=f.index, faces=0, error="analysis_failed") for f in decoded]
        )

    # (a) exactly one usable face in every frame
    face_counts = [len(f.boxes) for f in decoded]
    wrong = [f for f in decoded if len(f.boxes) != 1]
    checks.append(
        CheckResult(
            name="one_face",
            flag="face_count",
            passed=not wrong,
            value=float(len(decoded) - len(wrong)),
            threshold=float(len(decoded)),
            detail="one face in every frame"
            if not wrong
            else "; ".join(
                f"frame {f.index + 1}: {len(f.boxes)} faces"
                + (f" ({f.rejected} too small)" if f.rejected else "")
                for f in wrong
            ),
        )
    )
    usable = not wrong and all(f.landmarks is not None and f.embedding is not None for f in decoded)
    measures = [
        FrameMeasure(index=f.index, faces=n, error=f.error)
        for f, n in zip(decoded, face_counts, strict=True)
    ]
    if not usable:
        why = (
            "not every frame shows exactly one face"
            if wrong
            else "no landmarks with this face model"
        )
        checks.extend(
            _not_evaluated(n, f, why) for n, f in zip(frame_names[1:], frame_flags[1:], strict=True)
        )
        if references is not None:
            checks.append(_not_evaluated("reference_match", "reference_mismatch", why))
        return report(measures)

    # (b) the asked poses, in order, relative to the first frame
    poses = [pose_measures(f.landmarks) for f in decoded]  # type: ignore[arg-type]
    yaw0, pitch0, _ = poses[0]
    labels = ["neutral"] + [
        _pose_label(yaw - yaw0, pitch0 - pitch, t) for yaw, pitch, _ in poses[1:]
    ]
    seen: list[str] = []
    for label in labels[1:]:
        if label != "neutral" and (not seen or seen[-1] != label):
            seen.append(label)
    matched = 0
    for asked, shown in zip(challenge.steps, seen, strict=False):
        if asked != shown:
            break
        matched += 1
    pose_ok = seen == list(challenge.steps)
    checks.append(
        CheckResult(
            name="pose_sequence",
            flag="pose_mismatch",
            passed=pose_ok,
            value=float(matched),
            threshold=float(len(challenge.steps)),
            detail=f"asked {' → '.join(challenge.steps)}; seen {' → '.join(seen) or 'no movement'}"
            f" (thresholds: sideways {t.yaw}, up {t.up}, down {t.down})",
        )
    )

    # (e) not a replayed still
    pairs = list(itertools.pairwise(decoded))
    changes = [_face_change(a, b) for a, b in pairs]
    # A pair moved when the face changed shape, or changed pose past the pose thresholds (a weak
    # nod can change the pose reading while the shape changes little).
    moved = sum(
        pixels >= t.still_pixels and (motion >= t.moved_landmarks or before != after)
        for (motion, pixels), before, after in zip(changes, labels, labels[1:], strict=False)
    )
    checks.append(
        CheckResult(
            name="live_motion",
            flag="replayed_still",
            passed=moved >= len(challenge.steps),
            value=float(moved),
            threshold=float(len(challenge.steps)),
            detail=f"the face changed shape or pose between {moved} of {len(changes)} consecutive frames "
            f"(at least one per asked pose needed); largest change {max(c[0] for c in changes):.3f} "
            f"(threshold {t.moved_landmarks}), smallest pixel change {min(c[1] for c in changes):.2f}",
        )
    )

    # (c) one identity across the frames
    first = decoded[0].embedding
    assert first is not None
    distances = [engine.cosine_distance(first, f.embedding) for f in decoded]  # type: ignore[arg-type]
    worst = max(distances[1:])
    checks.append(
        CheckResult(
            name="same_person",
            flag="identity_changed",
            passed=worst <= same_threshold,
            value=round(worst, 4),
            threshold=round(same_threshold, 4),
            detail=f"largest face distance to the first frame {worst:.3f} (same-person threshold {same_threshold:.3f})",
        )
    )

    # (d) the scene outside the person and its light stay the same
    scene = [_scene_change(a, b) for a, b in pairs]
    enough = all(share >= t.min_background_share for _, _, share in scene)
    min_ssim = min(s for s, _, _ in scene)
    max_light = max(light for _, light, _ in scene)
    min_share = min(share for _, _, share in scene)
    checks.append(
        CheckResult(
            name="background",
            flag="background_changed",
            passed=enough and min_ssim >= t.background_ssim,
            value=round(min_ssim, 4),
            threshold=t.background_ssim,
            detail=f"smallest similarity of the scene between consecutive frames {min_ssim:.2f} over "
            f"{min_share:.0%} of the frame"
            + ("" if enough else " (too little scene visible: step back from the camera)"),
        )
    )
    checks.append(
        CheckResult(
            name="light",
            flag="light_changed",
            passed=enough and max_light <= t.light_change,
            value=round(max_light, 4),
            threshold=t.light_change,
            detail=f"largest change of the scene's brightness between consecutive frames {max_light:.1%}",
        )
    )

    # (g) the live face matches the request's confirmed candidates
    reference_distances: list[float] = []
    if references is not None:
        valid = [
            r for r in (_vector(r) for r in references) if r is not None and r.shape == first.shape
        ]
        reference_distances = [round(engine.cosine_distance(first, r), 4) for r in valid]
        if not reference_distances:
            checks.append(
                _not_evaluated(
                    "reference_match", "reference_mismatch", "no usable reference embedding"
                )
            )
        else:
            nearest = min(reference_distances)
            near = sum(d <= reference_threshold for d in reference_distances)
            checks.append(
                CheckResult(
                    name="reference_match",
                    flag="reference_mismatch",
                    passed=nearest <= reference_threshold,
                    value=nearest,
                    threshold=round(reference_threshold, 4),
                    detail=f"the live face (first frame) is within {reference_threshold:.3f} of {near} of "
                    f"{len(reference_distances)} reference faces; nearest {nearest:.3f}",
                )
            )

    measures = [
        FrameMeasure(
            index=f.index,
            faces=1,
            yaw=round(yaw, 4),
            pitch=round(pitch, 4),
            pose=label,
            distance_to_first=round(d, 4),
        )
        for f, (yaw, pitch, _), label, d in zip(decoded, poses, labels, distances, strict=True)
    ]
    return report(measures, reference_distances)
