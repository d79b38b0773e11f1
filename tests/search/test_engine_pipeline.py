"""Each dlib pipeline option changes detection or embedding as claimed, on real photos with the real model."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from search import engine
from tests.search import photos
from tests.search.conftest import index_photos

LFW = Path(__file__).resolve().parents[3] / "shared" / "faces-lfw"


def main_embedding(name: str) -> np.ndarray:
    analysis = engine.analyse(engine.decode_image(photos.photo(name)))
    assert analysis.faces, name
    return max(analysis.faces, key=lambda f: f.box[2] * f.box[3]).embedding


def test_options_default_to_the_measured_pipeline(settings):
    """The defaults are the ones docs/faces.md ("Pipeline") justifies; a silent change would shift every embedding."""
    options = engine.PipelineOptions.from_settings()
    assert options == engine.PipelineOptions(
        upsample=1, retry_upsample=0, cnn_fallback=True, landmarks=68, mirror=True
    )
    assert engine.pipeline_version().startswith(engine.PIPELINE_VERSION)


def test_mirror_mean_differs_from_plain_and_is_unit_norm(settings):
    """Mirror mean: not the plain embedding (the option must do something), still unit-norm and the same person."""
    settings.FACE_EMBED_MIRROR = False
    plain = main_embedding("img1.jpg")
    settings.FACE_EMBED_MIRROR = True
    mirrored = main_embedding("img1.jpg")
    assert np.linalg.norm(mirrored) == pytest.approx(1.0, abs=1e-5)
    assert not np.allclose(plain, mirrored, atol=1e-4)
    assert engine.cosine_distance(plain, mirrored) < 0.03  # the same face, not another one
    assert "+mirror" in engine.pipeline_version()


def test_jitter_differs_from_plain_and_is_not_repeatable(settings):
    """dlib jitter: averaged random crops, so not the plain embedding, and (dlib does not reseed) the same
    photo embeds a little differently each time: one reason it is off by default (docs/faces.md)."""
    settings.FACE_EMBED_JITTERS = 0
    plain = main_embedding("img1.jpg")
    settings.FACE_EMBED_JITTERS = 3
    first, second = main_embedding("img1.jpg"), main_embedding("img1.jpg")
    assert np.linalg.norm(first) == pytest.approx(1.0, abs=1e-5)
    assert not np.allclose(plain, first, atol=1e-4)
    assert not np.allclose(first, second, atol=1e-6)
    assert engine.cosine_distance(first, second) < 0.02
    assert "+jit3" in engine.pipeline_version()


def test_68_point_alignment_gives_another_chip_of_the_same_face(settings):
    """68-point alignment: a different chip, hence embedding, of the same face (not a misaligned crop)."""
    settings.FACE_LANDMARKS = 5
    five = main_embedding("img1.jpg")
    settings.FACE_LANDMARKS = 68
    sixty_eight = main_embedding("img1.jpg")
    assert not np.allclose(five, sixty_eight, atol=1e-4)
    assert engine.cosine_distance(five, sixty_eight) < 0.05
    assert "lm68" in engine.pipeline_version()


def test_unknown_landmark_count_is_refused(settings):
    """FACE_LANDMARKS=7 is a configuration mistake: a clear error, not a silent 5-point fallback."""
    settings.FACE_LANDMARKS = 7
    with pytest.raises(ValueError, match="5 or 68"):
        engine.analyse(engine.decode_image(photos.photo("img1.jpg")))


def test_retry_with_more_upsampling_finds_a_face_the_first_pass_missed(settings):
    """A large photo shrunk for detection leaves its face too small for one HOG pass; the retry finds it."""
    decoded = engine.decode_image(photos.photo("img1.jpg"))
    face_side = engine.analyse(decoded).faces[0].box[2]
    # Shrink for detection so that the face is ~24 px there: out of one HOG pass's reach, within two passes'.
    settings.FACE_DETECT_MAX_SIDE = round(max(decoded.width, decoded.height) * 24 / face_side)
    settings.FACE_DETECT_RETRY_UPSAMPLE = 0
    assert engine.analyse(decoded).faces == []
    settings.FACE_DETECT_RETRY_UPSAMPLE = 2
    faces = engine.analyse(decoded).faces
    assert len(faces) == 1 and faces[0].detector == "dlib"


def test_cnn_fallback_finds_a_face_where_hog_finds_none(settings):
    """A labelled LFW photo (face turned away) where HOG finds nothing even upsampled twice; the CNN finds it."""
    decoded = engine.decode_image((LFW / "images" / "Anna_Kournikova_0005.jpg").read_bytes())
    settings.FACE_DETECT_CNN_FALLBACK = False
    settings.FACE_DETECT_RETRY_UPSAMPLE = 2
    assert engine.analyse(decoded).faces == []
    settings.FACE_DETECT_CNN_FALLBACK = True
    faces = engine.analyse(decoded).faces
    assert len(faces) == 1 and faces[0].detector == "dlib-cnn"
    assert np.linalg.norm(faces[0].embedding) == pytest.approx(1.0, abs=1e-5)
    x, y, w, h = faces[0].box  # LFW centres the labelled face in its 250 px photo
    assert abs(x + w / 2 - 125) < 40 and abs(y + h / 2 - 125) < 40


# Labelled faces-lfw photos in which the default pipeline finds no face at all (bench/pipeline.py).
LFW_LOST_BY_DEFAULT: set[str] = set()


def test_default_pipeline_finds_a_face_in_every_labelled_lfw_photo():
    """Every labelled faces-lfw photo yields a face with the default detector, or is listed above as lost."""
    with (LFW / "identities.csv").open() as handle:
        names = [row["file"] for row in csv.DictReader(handle)]
    state = engine._engine("Dlib", "dlib")
    options = engine.PipelineOptions.from_settings()
    lost = set()
    for name in names:
        small, _ = engine.detection_image(engine.decode_image((LFW / "images" / name).read_bytes()))
        if not engine.detect(state, small, options):
            lost.add(name)
    assert lost == LFW_LOST_BY_DEFAULT


@pytest.mark.django_db
def test_stored_faces_record_the_pipeline_that_embedded_them(settings):
    """After an upgrade the index must be re-analysed: each stored face says which pipeline embedded it."""
    settings.FACE_EMBED_MIRROR = True
    stored = index_photos("img1.jpg")
    face = stored["img1.jpg"].faces.get()
    assert face.pipeline == engine.pipeline_version()
    assert face.pipeline.startswith(f"{engine.PIPELINE_VERSION}:") and "mirror" in face.pipeline
