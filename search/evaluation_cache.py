"""Embeddings of labelled evaluation photos, computed once per (photo, model, pipeline version).

Evaluation photos are test data, not personal data of the service: their embeddings are cached
under ``.data/eval-cache/`` (git-ignored) so that reruns of ``faces_evaluate`` and
``bench/accuracy.py`` skip the face model. A change to ``search/engine.py`` or to the detection
settings changes the pipeline version, so a stale cache is never read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings

from search import engine

CACHE_DIR = Path(settings.BASE_DIR) / ".data" / "eval-cache"
MAIN_FACE_CHOICES = ("centre", "largest")


# Settings that shape the embeddings beyond those engine.pipeline_version() names (detection size
# limits, the CNN copy's size). The engine's own version covers landmarks, mirror, CNN fallback,
# upsampling and jitter; its source hash covers any code change.
_SHAPING_SETTINGS = (
    "FACE_MODEL",
    "FACE_DETECTOR",
    "FACE_DETECT_MAX_SIDE",
    "FACE_MIN_SIZE_PX",
    "FACE_DETECT_CNN_MAX_SIDE",
)


def pipeline_version() -> str:
    """A short hash of the pipeline's version, its code and the settings that shape its output."""
    h = hashlib.sha256(Path(engine.__file__).read_bytes())
    h.update(f"pipeline={engine.pipeline_version()}".encode())
    for name in _SHAPING_SETTINGS:
        h.update(f"{name}={getattr(settings, name, '')}".encode())
    return h.hexdigest()[:12]


@dataclass(frozen=True)
class PhotoFaces:
    """Every face the pipeline found in one photo (no faces: an empty ``boxes``)."""

    width: int
    height: int
    boxes: np.ndarray  # (n, 4) int: x, y, w, h
    embeddings: np.ndarray  # (n, d) float32, L2-normalised
    error: str = ""  # the pipeline refused the photo (decoding): counted as no face

    def main(self, how: str) -> np.ndarray | None:
        """The labelled person's face: nearest the image centre (``centre``) or the ``largest``."""
        if len(self.boxes) == 0:
            return None
        b = self.boxes.astype(float)
        if how == "largest":
            index = int(np.argmax(b[:, 2] * b[:, 3]))
        elif how == "centre":
            cx, cy = b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2
            index = int(np.argmin((cx - self.width / 2) ** 2 + (cy - self.height / 2) ** 2))
        else:
            raise ValueError(f"main face must be one of {MAIN_FACE_CHOICES}, not {how!r}")
        return np.asarray(self.embeddings[index], dtype=np.float32)


def _cache_path(data: bytes, model: str, version: str) -> Path:
    return CACHE_DIR / model / version / f"{hashlib.sha256(data).hexdigest()}.npz"


def _analyse(data: bytes) -> PhotoFaces:
    try:
        image = engine.decode_image(data)
    except engine.ImageRejected as exc:
        return PhotoFaces(0, 0, np.zeros((0, 4), int), np.zeros((0, 0), np.float32), error=exc.code)
    analysis = engine.analyse(image)
    boxes = np.array([f.box for f in analysis.faces], dtype=int).reshape(-1, 4)
    embeddings = (
        np.stack([f.embedding for f in analysis.faces]).astype(np.float32)
        if analysis.faces
        else np.zeros((0, 0), np.float32)
    )
    return PhotoFaces(image.width, image.height, boxes, embeddings)


def photo_faces(
    paths: Sequence[Path],
    *,
    progress: Callable[[int, int], None] | None = None,
    use_cache: bool = True,
) -> tuple[list[PhotoFaces], int]:
    """The faces of each photo, from the cache where it has them; returns (faces, photos embedded now)."""
    model, version = engine.model_name(), pipeline_version()
    out: list[PhotoFaces] = []
    computed = 0
    for i, path in enumerate(paths):
        data = path.read_bytes()
        cached = _cache_path(data, model, version)
        if use_cache and cached.exists():
            with np.load(cached) as z:
                out.append(
                    PhotoFaces(
                        int(z["size"][0]),
                        int(z["size"][1]),
                        z["boxes"],
                        z["embeddings"],
                        str(z["error"]),
                    )
                )
            continue
        faces = _analyse(data)
        computed += 1
        if use_cache:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(".tmp.npz")
            np.savez(
                tmp,
                size=np.array([faces.width, faces.height]),
                boxes=faces.boxes,
                embeddings=faces.embeddings,
                error=np.array(faces.error),
            )
            tmp.replace(cached)
        out.append(faces)
        if progress:
            progress(i + 1, len(paths))
    return out, computed
