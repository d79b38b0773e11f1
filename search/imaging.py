"""Decoding uploads into pixels the face pipeline can read, within bounded memory and work.

decode_image() checks the true format, the pixel limit and EXIF orientation, and normalises CMYK,
alpha, palette and 16-bit images; work_slot() bounds how many photos a process decodes or analyses
at once. search.engine re-exports these names.
"""

from __future__ import annotations

import contextlib
import io
import logging
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from PIL import Image, ImageOps, UnidentifiedImageError

from config.errors import ApplicationError

logger = logging.getLogger(__name__)

ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "MPO"}


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
    """Too many photos are being decoded or analysed in this process: try again shortly (503, nothing
    was stored)."""

    default_status = 503
    retry_after = 30

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
