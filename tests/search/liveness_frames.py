"""Synthetic live captures for the liveness checks (search/liveness/): a helper, not tests.

What a synthetic genuine capture stands for: a person in front of a webcam in one room who looks
at the camera and then turns their head as asked. It is built from ONE photo of
../shared/faces: a 640x480 window around the face (the face about a third of its width), in which
the head region is warped with a 3D-ish depth model (an ellipsoid for the head plus a ridge for the
nose, moved by ``cv2.remap``) so that the nose moves more than the eyes and cheeks, as it does when
a head turns; the rest of the photo is the constant background. Each frame adds what a camera adds
between frames: sensor noise, a small shift of the whole picture (a hand or a laptop lid), a little
auto-exposure gain, and JPEG compression.

What it cannot show: a real head turn (occlusion of the far cheek and ear, the hair and shoulders
moving, the face's own 3D shape), real lighting (shading that changes with the pose, auto-exposure
swings, backlight), real webcam optics and motion blur. Attacks made from prints or screens held to a
camera, masks, deepfakes and frames injected by a virtual camera are not synthesised at all. Figures
measured on these captures (bench/liveness.py) say whether the checks do what they are meant to on
clean inputs, not how often they are right on real cameras.

Attacks synthesised here: a still replayed for every frame (with fresh camera noise each frame),
a set of different photos of the same person (identities.csv), two people alternating in one scene
(the second person's face warped into the first photo's head region: a face swap), and stale nonces
(built by the tests from a genuine capture with an expired or used challenge).

``write_y4m`` writes frames as a YUV4MPEG2 4:2:0 file, which Chromium plays as a camera with
``--use-fake-device-for-media-stream --use-file-for-fake-video-capture=FILE.y4m``.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from random import Random

import cv2
import numpy as np
from PIL import Image

from search import engine, liveness
from tests.search.photos import FACES, photo

WIDTH, HEIGHT = 640, 480
# Angles of a genuine turn: 20-28 degrees sideways, 18-25 degrees up or down; what a person asked to
# "turn left" does at arm's length from a laptop (a guess: not measured on people). Past about 30
# degrees the warp folds the nose over the cheek.
YAW_RANGE = (20.0, 28.0)
PITCH_RANGE = (18.0, 25.0)


@cache
def identities() -> dict[str, list[str]]:
    """identities.csv: person -> photo names."""
    people: dict[str, list[str]] = {}
    with (FACES / "identities.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            people.setdefault(row["identity"], []).append(row["file"])
    return people


@dataclass(frozen=True)
class Scene:
    """A webcam-like 640x480 window of a photo with its one face's 68 landmarks."""

    name: str
    pixels: np.ndarray  # RGB uint8, HEIGHT x WIDTH
    landmarks: np.ndarray  # (68, 2) in the window's pixels


def _largest_face(image: engine.DecodedImage) -> tuple[int, int, int, int] | None:
    faces = engine.analyse(image).faces
    if not faces:
        return None
    return max(faces, key=lambda f: f.box[2] * f.box[3]).box


@cache
def scene(name: str) -> Scene | None:
    """The 640x480 window around the largest face of a shared photo (None: no face found, or more
    than one face in the window)."""
    image = engine.decode_image(photo(name))
    box = _largest_face(image)
    if box is None:
        return None
    x, y, w, h = box
    # The window: 4:3, the face box about 28 % of its width, as in a laptop webcam at arm's length.
    # Where the photo is too tight around the face, its edges are stretched outward (replicated
    # border): a plain background with the photo's own colours.
    win_w = max(w / 0.28, 200.0)
    win_h = win_w * 3 / 4
    cx, cy = x + w / 2, y + h / 2 + 0.05 * h
    left, top = round(cx - win_w / 2), round(cy - win_h * 0.45)
    right, bottom = left + round(win_w), top + round(win_h)
    pad = (max(0, -top), max(0, bottom - image.height), max(0, -left), max(0, right - image.width))
    pixels = (
        cv2.copyMakeBorder(image.pixels, *pad, cv2.BORDER_REPLICATE) if any(pad) else image.pixels
    )
    crop = pixels[top + pad[0] : bottom + pad[0], left + pad[2] : right + pad[2]]
    shrink = crop.shape[1] > WIDTH
    pixels = cv2.resize(
        crop, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC
    )
    window = engine.DecodedImage(pixels=pixels, format="PNG", width=WIDTH, height=HEIGHT)
    faces = engine.analyse(window).faces
    if len(faces) != 1:
        return None  # no face found at webcam size, or another face in the window
    marks = liveness.face_landmarks(window, faces[0].box)
    if marks is None:
        return None
    return Scene(name=name, pixels=np.ascontiguousarray(pixels), landmarks=marks)


def _depth(s: Scene) -> tuple[np.ndarray, np.ndarray]:
    """A depth map (pixels toward the camera) of the head, and the head's soft mask.

    The head is a plateau (the face moves as one piece) that falls off smoothly toward the edge of
    an ellipse around the face, in the hair and the neck, so that the scene outside stays put; the
    nose is a ridge on it that moves further than the eyes and mouth, as in a real turn.
    """
    marks = s.landmarks
    jaw_left, jaw_right, chin = marks[0], marks[16], marks[8]
    brow_top = float(marks[17:27, 1].min())
    face_w = float(np.linalg.norm(jaw_right - jaw_left))
    top = brow_top - 0.6 * (chin[1] - brow_top)
    bottom = chin[1] + 0.3 * (chin[1] - brow_top)
    cx, cy = (jaw_left[0] + jaw_right[0]) / 2, (top + bottom) / 2
    ax, ay = 0.8 * face_w, (bottom - top) / 2
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    r2 = ((xx - cx) / ax) ** 2 + ((yy - cy) / ay) ** 2
    ramp = np.clip((1.0 - r2) / 0.45, 0.0, 1.0)
    head = ramp * ramp * (3.0 - 2.0 * ramp)  # smoothstep: flat inside, no kink at the edge
    depth = 0.25 * ax * head
    # The nose: a ridge from its bridge (27) to its tip (30), higher toward the tip.
    a, b = marks[27], marks[30]
    seg = b - a
    t = np.clip(
        ((xx - a[0]) * seg[0] + (yy - a[1]) * seg[1]) / max(float(seg @ seg), 1.0), 0.0, 1.0
    )
    px, py = a[0] + t * seg[0], a[1] + t * seg[1]
    d2 = (xx - px) ** 2 + (yy - py) ** 2
    sigma = 0.09 * face_w
    depth += 0.3 * face_w * (0.4 + 0.6 * t) * np.exp(-d2 / (2 * sigma**2))
    return depth.astype(np.float32), head.astype(np.float32)


_POSE = {
    "left": (1.0, 0.0),
    "right": (-1.0, 0.0),
    "up": (0.0, 1.0),
    "down": (0.0, -1.0),
    "neutral": (0.0, 0.0),
}


def posed(s: Scene, yaw_deg: float, pitch_deg: float) -> np.ndarray:
    """The scene with the head turned: positive yaw = the person's left (nose toward the image's right
    edge, the camera's unmirrored view), positive pitch = looking up. The background does not move."""
    depth, _ = _depth(s)
    dx = depth * math.sin(math.radians(yaw_deg))
    dy = -depth * math.sin(math.radians(pitch_deg))
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    return cv2.remap(
        s.pixels, xx - dx, yy - dy, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )


def camera(
    pixels: np.ndarray, rng: Random, *, noise: float = 2.0, shift: float = 1.5, gain: float = 0.02
) -> np.ndarray:
    """What a webcam adds to a frame: a small shift, an exposure gain, sensor noise."""
    dx, dy = rng.uniform(-shift, shift), rng.uniform(-shift, shift)
    moved = cv2.warpAffine(
        pixels, np.float32([[1, 0, dx], [0, 1, dy]]), (WIDTH, HEIGHT), borderMode=cv2.BORDER_REFLECT
    )
    noisy = moved.astype(np.float32) * (1.0 + rng.uniform(-gain, gain))
    seed = rng.randrange(2**32)
    noisy += np.random.default_rng(seed).normal(0.0, noise, noisy.shape).astype(np.float32)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def jpeg(pixels: np.ndarray, quality: int = 90) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", quality=quality)
    return out.getvalue()


def pose_plan(
    steps: Sequence[str], rng: Random, *, holds: bool | None = None
) -> list[tuple[str, float, float]]:
    """(label, yaw, pitch) per frame: neutral first, then each asked pose (held for a second frame
    when ``holds``), then back to neutral when that is needed to reach 4 frames."""
    hold = rng.random() < 0.5 if holds is None else holds
    plan = [("neutral", rng.uniform(-3, 3), rng.uniform(-3, 3))]
    for step in steps:
        sx, sy = _POSE[step]
        for _ in range(2 if hold else 1):
            yaw = sx * rng.uniform(*YAW_RANGE) if sx else rng.uniform(-3, 3)
            pitch = sy * rng.uniform(*PITCH_RANGE) if sy else rng.uniform(-3, 3)
            plan.append((step, yaw, pitch))
    while len(plan) < liveness.MIN_FRAMES:
        plan.append(("neutral", rng.uniform(-3, 3), rng.uniform(-3, 3)))
    return plan[: liveness.MAX_FRAMES]


def genuine_pixels(
    name: str, steps: Sequence[str], rng: Random, *, holds: bool | None = None
) -> list[np.ndarray]:
    s = scene(name)
    assert s is not None, f"{name}: no usable face for a synthetic capture"
    return [
        camera(posed(s, yaw, pitch), rng) for _, yaw, pitch in pose_plan(steps, rng, holds=holds)
    ]


def genuine(
    name: str, steps: Sequence[str], rng: Random, *, holds: bool | None = None
) -> list[bytes]:
    """A genuine-looking capture of the person in ``name`` following ``steps``."""
    return [jpeg(p) for p in genuine_pixels(name, steps, rng, holds=holds)]


def replayed_still(name: str, count: int, rng: Random) -> list[bytes]:
    """Attack 1: one photo shown for every frame (a fresh camera noise each time, so no two frames
    have the same bytes)."""
    s = scene(name)
    assert s is not None
    return [jpeg(camera(s.pixels, rng)) for _ in range(count)]


def different_photos(names: Sequence[str], rng: Random) -> list[bytes]:
    """Attack 2: a set of different photos of the same person, one per frame."""
    frames = []
    for name in names:
        s = scene(name)
        assert s is not None, name
        frames.append(jpeg(camera(s.pixels, rng)))
    return frames


def _swap_face(base: Scene, other: Scene, yaw: float, pitch: float) -> np.ndarray:
    """``other``'s head, posed, warped onto ``base``'s head in ``base``'s scene."""
    turned = posed(other, yaw, pitch)
    points = [36, 39, 42, 45, 30, 48, 54, 8]
    matrix, _ = cv2.estimateAffinePartial2D(
        other.landmarks[points].astype(np.float32), base.landmarks[points].astype(np.float32)
    )
    moved = cv2.warpAffine(turned, matrix, (WIDTH, HEIGHT), borderMode=cv2.BORDER_REFLECT)
    _, head = _depth(base)
    alpha = np.clip(head * 4.0, 0.0, 1.0)[..., None]
    return (moved * alpha + base.pixels * (1.0 - alpha)).astype(np.uint8)


def two_people(name_a: str, name_b: str, steps: Sequence[str], rng: Random) -> list[bytes]:
    """Attack 3: two people alternating in one scene (person B's face swapped into person A's photo
    on every second frame), each frame posed as asked: only the identity differs."""
    a, b = scene(name_a), scene(name_b)
    assert a is not None and b is not None
    frames = []
    for i, (_, yaw, pitch) in enumerate(pose_plan(steps, rng, holds=True)):
        pixels = posed(a, yaw, pitch) if i % 2 == 0 else _swap_face(a, b, yaw, pitch)
        frames.append(jpeg(camera(pixels, rng)))
    return frames


def usable_people(min_photos: int = 2) -> dict[str, list[str]]:
    """People of identities.csv with at least ``min_photos`` photos that give a synthetic scene."""
    people = {}
    for person, names in sorted(identities().items()):
        usable = [n for n in names if scene(n) is not None]
        if len(usable) >= min_photos:
            people[person] = usable
    return people


# --- The fake camera file for Chromium -----------------------------------------------------------


def write_y4m(path: Path, frames: Sequence[np.ndarray], *, fps: int = 10, repeat: int = 10) -> Path:
    """Write RGB frames (even width and height) as YUV4MPEG2 4:2:0, each shown ``repeat`` times.

    Chromium's ``--use-file-for-fake-video-capture`` reads this format (``C420jpeg``: full-range
    BT.601 chroma sited as in JPEG) and loops the file.
    """
    if not frames:
        raise ValueError("no frames")
    height, width = frames[0].shape[:2]
    if width % 2 or height % 2:
        raise ValueError("YUV 4:2:0 needs an even width and height")
    with Path(path).open("wb") as fh:
        fh.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for pixels in frames:
            if pixels.shape[:2] != (height, width):
                raise ValueError("every frame must have the first frame's size")
            planes = cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_RGB2YUV_I420).tobytes()
            for _ in range(repeat):
                fh.write(b"FRAME\n")
                fh.write(planes)
    return Path(path)


def read_y4m(path: Path) -> list[np.ndarray]:
    """The frames of a file written by ``write_y4m``, as RGB (to check the writer)."""
    data = Path(path).read_bytes()
    header, _, body = data.partition(b"\n")
    fields = {f[:1]: f[1:] for f in header.split()[1:]}
    width, height = int(fields[b"W"]), int(fields[b"H"])
    size = width * height * 3 // 2
    frames = []
    marker = b"FRAME\n"
    while body:
        assert body.startswith(marker), "each frame starts with FRAME"
        planes = np.frombuffer(body[len(marker) : len(marker) + size], dtype=np.uint8).reshape(
            height * 3 // 2, width
        )
        frames.append(cv2.cvtColor(planes, cv2.COLOR_YUV2RGB_I420))
        body = body[len(marker) + size :]
    return frames
