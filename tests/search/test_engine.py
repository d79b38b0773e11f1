"""The face adapter with the real model on the shared photos, and every kind of bad input."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from search import engine
from search.calibration import calibration_for
from tests.search import photos


def embed(name: str) -> np.ndarray:
    analysis = engine.analyse(engine.decode_image(photos.photo(name)))
    assert analysis.faces, name
    return max(analysis.faces, key=lambda f: f.box[2] * f.box[3]).embedding


def test_same_person_matches_and_different_people_do_not():
    threshold = calibration_for("Dlib").threshold
    chosen = [p for p in photos.pairs() if p[2]][:8] + [p for p in photos.pairs() if not p[2]][:8]
    for x, y, same in chosen:
        distance = engine.cosine_distance(embed(x), embed(y))
        assert (distance <= threshold) is same, (x, y, same, distance)


def test_face_records_box_score_model_and_normalised_embedding():
    face = engine.analyse(engine.decode_image(photos.photo("img1.jpg"))).faces[0]
    assert face.model == "Dlib" and face.detector == "dlib"
    assert face.embedding.shape == (128,)
    assert np.linalg.norm(face.embedding) == pytest.approx(1.0, abs=1e-5)
    x, y, w, h = face.box
    assert w > 40 and h > 40 and x >= 0 and y >= 0
    assert face.score > 0


@pytest.mark.parametrize(("name", "minimum"), [("couple.jpg", 2), ("selfie-many-people.jpg", 3)])
def test_multi_face_photos_return_every_face(name, minimum):
    analysis = engine.analyse(engine.decode_image(photos.photo(name)))
    assert len(analysis.faces) >= minimum
    boxes = {f.box for f in analysis.faces}
    assert len(boxes) == len(analysis.faces)


def test_webp_with_a_jpg_name_is_read_by_content():
    decoded = engine.decode_image(photos.photo("img47.jpg"))
    assert decoded.format == "WEBP"
    assert engine.analyse(decoded).faces


@pytest.mark.real_engine
def test_batch_gives_the_same_embeddings_as_one_by_one():
    names = ["img1.jpg", "couple.jpg", "img3.jpg"]
    batch = engine.analyse_many([engine.decode_image(photos.photo(n)) for n in names])
    for name, analysis in zip(names, batch, strict=True):
        single = engine.analyse(engine.decode_image(photos.photo(name)))
        assert len(single.faces) == len(analysis.faces)
        for a, b in zip(single.faces, analysis.faces, strict=True):
            assert engine.cosine_distance(a.embedding, b.embedding) < 1e-5


@pytest.mark.parametrize(
    ("label", "data", "code"),
    [
        ("zero bytes", b"", "empty"),
        ("a PDF named .jpg", photos.NOT_AN_IMAGE, "not_an_image"),
        ("the first half of a JPEG", photos.truncated_jpeg(), "damaged"),
        ("a 30,000×30,000 PNG bomb", photos.png_bomb(), "too_many_pixels"),
        ("a 60 MB JPEG", photos.huge_jpeg(), "too_large"),
        ("an SVG drawing", photos.SVG, "svg"),
        ("a HEIC photo", photos.HEIC, "unsupported_format"),
    ],
)
def test_bad_input_is_rejected_with_a_reason(label, data, code):
    with pytest.raises(engine.ImageRejected) as exc:
        engine.decode_image(data)
    assert exc.value.code == code, label
    assert exc.value.message.endswith("."), exc.value.message


def test_photo_without_a_face_has_no_faces():
    analysis = engine.analyse(engine.decode_image(photos.no_face_png()))
    assert analysis.faces == []


def test_faces_too_small_are_rejected_with_a_reason(settings):
    settings.FACE_MIN_SIZE_PX = 2000
    analysis = engine.analyse(engine.decode_image(photos.photo("img1.jpg")))
    assert analysis.faces == []
    assert analysis.rejected and "too small" in analysis.rejected[0][1]


@pytest.mark.parametrize(
    ("mode", "fmt", "kwargs"),
    [
        ("CMYK", "JPEG", {}),
        ("RGBA", "PNG", {}),
        ("P", "PNG", {}),
        ("LA", "PNG", {}),
        ("L", "JPEG", {}),
    ],
)
def test_colour_modes_decode_to_rgb_and_keep_the_face(mode, fmt, kwargs):
    decoded = engine.decode_image(photos.converted("img1.jpg", mode, fmt, **kwargs))
    assert (
        decoded.pixels.ndim == 3
        and decoded.pixels.shape[2] == 3
        and decoded.pixels.dtype == np.uint8
    )
    assert engine.analyse(decoded).faces


def test_sixteen_bit_greyscale_is_scaled_not_clipped():
    original = np.asarray(Image.open(io.BytesIO(photos.photo("img1.jpg"))).convert("L"))
    grey = original.astype(np.uint16) * 257
    out = io.BytesIO()
    Image.fromarray(grey).save(out, format="PNG")
    decoded = engine.decode_image(out.getvalue())
    # Clipping 16-bit values to 8 bits would turn nearly every pixel white.
    assert float(np.abs(decoded.pixels[:, :, 0].astype(int) - original.astype(int)).mean()) < 8
    assert engine.analyse(decoded).faces


def test_exif_orientation_is_applied():
    upright = Image.open(io.BytesIO(photos.photo("img1.jpg"))).convert("RGB")
    stored = upright.rotate(90, expand=True)  # what a camera writes when held sideways
    exif = Image.Exif()
    exif[0x0112] = (
        8  # "rotate 90° clockwise to display"; Pillow's exif_transpose undoes the rotation
    )
    out = io.BytesIO()
    stored.save(out, format="JPEG", exif=exif)
    decoded = engine.decode_image(out.getvalue())
    assert (decoded.width, decoded.height) == upright.size
    assert engine.analyse(decoded).faces


def test_first_frame_of_an_animation_is_used():
    face = Image.open(io.BytesIO(photos.photo("img1.jpg"))).convert("RGB")
    blank = Image.new("RGB", face.size, "white")
    out = io.BytesIO()
    face.save(out, format="GIF", save_all=True, append_images=[blank], duration=100)
    decoded = engine.decode_image(out.getvalue())
    assert engine.analyse(decoded).faces


def test_crop_is_a_small_jpeg():
    decoded = engine.decode_image(photos.photo("img1.jpg"))
    crop = engine.analyse(decoded).faces[0].crop_jpeg(decoded)
    image = Image.open(io.BytesIO(crop))
    assert image.format == "JPEG" and max(image.size) <= 160
