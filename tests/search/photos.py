"""The shared labelled photos (../shared/faces) and crafted bad inputs."""

from __future__ import annotations

import csv
import io
import struct
import zlib
from functools import cache
from pathlib import Path

from PIL import Image

FACES = Path(__file__).resolve().parents[3] / "shared" / "faces"
IMAGES = FACES / "images"
assert IMAGES.is_dir(), f"the shared test photos are missing: {IMAGES}"


@cache
def photo(name: str) -> bytes:
    return (IMAGES / name).read_bytes()


@cache
def pairs() -> list[tuple[str, str, bool]]:
    with (FACES / "pairs.csv").open(newline="") as fh:
        return [(r["file_x"], r["file_y"], r["same_person"] == "yes") for r in csv.DictReader(fh)]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png_bomb(side: int = 30_000) -> bytes:
    """A tiny PNG that claims side x side pixels (its pixel data would be ~side² bytes)."""
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    idat = zlib.compress(
        b"\x00" * (side + 1) * 64, 9
    )  # the first rows only: the header is what counts
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    )


def huge_jpeg(megabytes: int = 60) -> bytes:
    """A real JPEG followed by padding up to ``megabytes``."""
    data = photo("img1.jpg")
    return data + b"\x00" * (megabytes * 1024 * 1024 - len(data))


def truncated_jpeg() -> bytes:
    data = photo("img1.jpg")
    return data[: len(data) // 2]


SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'
HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 200
NOT_AN_IMAGE = b"%PDF-1.4 this is a document, not a photo\n" * 20


def no_face_png() -> bytes:
    image = Image.linear_gradient("L").resize((400, 300)).convert("RGB")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def converted(name: str, mode: str, fmt: str = "PNG", **save: object) -> bytes:
    image = Image.open(io.BytesIO(photo(name)))
    image = image.convert(mode)
    out = io.BytesIO()
    image.save(out, format=fmt, **save)
    return out.getvalue()
