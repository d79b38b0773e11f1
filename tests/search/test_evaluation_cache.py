"""The evaluation cache is keyed by everything that shapes an embedding: a change misses it."""

from __future__ import annotations

import pytest
from django.test import override_settings

from search import engine, evaluation_cache


@pytest.fixture
def photo(tmp_path, monkeypatch):
    """A file the pipeline refuses at decoding (no face model run): its result is cached all the same."""
    monkeypatch.setattr(evaluation_cache, "CACHE_DIR", tmp_path / "cache")
    path = tmp_path / "not-a-photo.jpg"
    path.write_bytes(b"not an image at all")
    return path


def embedded_now(photo) -> int:
    faces, computed = evaluation_cache.photo_faces([photo])
    assert faces[0].error  # refused at decoding, as intended: the test is about the key
    return computed


def test_same_settings_read_the_cache(photo):
    """Input: the same file twice with unchanged settings: computed once, then read from the cache."""
    assert embedded_now(photo) == 1
    assert embedded_now(photo) == 0


@pytest.mark.parametrize(
    "change",
    [
        {"FACE_LANDMARKS": 5},
        {"FACE_EMBED_MIRROR": False},
        {"FACE_DETECT_CNN_FALLBACK": False},
        {"FACE_DETECT_CNN_MAX_SIDE": 640},
        {"FACE_DETECT_UPSAMPLE": 2},
        {"FACE_EMBED_JITTERS": 3},
        {"FACE_DETECT_MAX_SIDE": 1200},
    ],
)
def test_a_changed_setting_misses_the_cache(photo, change):
    """Input: the file cached under the defaults, then one pipeline setting changed: embedded again."""
    with override_settings(
        FACE_LANDMARKS=68,
        FACE_EMBED_MIRROR=True,
        FACE_DETECT_CNN_FALLBACK=True,
        FACE_DETECT_CNN_MAX_SIDE=400,
        FACE_DETECT_UPSAMPLE=1,
        FACE_EMBED_JITTERS=0,
        FACE_DETECT_MAX_SIDE=800,
    ):
        assert embedded_now(photo) == 1
        before = evaluation_cache.pipeline_version()
        with override_settings(**change):
            assert evaluation_cache.pipeline_version() != before
            assert embedded_now(photo) == 1
        assert embedded_now(photo) == 0  # back to the defaults: the first entry is still there


def test_a_new_pipeline_version_misses_the_cache(photo, monkeypatch):
    """Input: the file cached, then engine.PIPELINE_VERSION bumped (as a change to embeddings does)."""
    assert embedded_now(photo) == 1
    monkeypatch.setattr(engine, "PIPELINE_VERSION", "dlib-next")
    assert embedded_now(photo) == 1
