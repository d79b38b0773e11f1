"""What one capture's frames measure (faces, landmarks, pose, shape, scene and light), and the report."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import cv2
import numpy as np

from search import engine
from search.calibration import calibration_for
from search.liveness.challenge import FRAME_MAX_BYTES, Thresholds


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


_SCENE_WIDTH, _SCENE_HEIGHT = 160, 120


def _scene(frame: _Frame) -> tuple[np.ndarray, np.ndarray]:
    """The frame in grey at 160x120 and the mask of the scene outside the person (True: scene).

    The face box is widened by half its width on each side and half its height above (hair), and
    runs down to the bottom edge (neck, shoulders): the parts that move when a person turns.
    """

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


def _thresholds(given: Thresholds | None) -> tuple[Thresholds, float, float]:
    """(thresholds, same-person distance, reference distance), the distances from the calibration
    where not given.

    Same person across the frames: the candidate band's one-to-one point
    (``search_threshold(1, point="candidate")``, a per-comparison false-match rate of 1e-2). The frames
    are seconds apart in one light, so what separates a genuine capture's faces is the pose alone,
    which costs the strict point's recall (head turns of 25 degrees cross it); a second person must
    pass for every frame. The live face against the request's candidates: the distance at a
    per-comparison false-match rate of 1e-3 (``Calibration.same_person_threshold()``), since that match releases
    data.
    """

    chosen = given or Thresholds()
    same, reference = chosen.same_person, chosen.reference
    if same is None or reference is None:
        calibration = calibration_for(engine.model_name())
        same = same if same is not None else calibration.search_threshold(1, point="candidate")
        reference = reference if reference is not None else calibration.same_person_threshold()
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
