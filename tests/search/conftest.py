from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.conf import settings

from search import services
from search.models import SourceImage
from tests.search import photos


def index_photos(*names: str, jurisdiction: str = "") -> dict[str, SourceImage]:
    """Store and analyse shared photos with the real model, in this process."""
    stored = {}
    for name in names:
        result = services.source_image_store(
            data=photos.photo(name),
            source_label="test photos",
            page_url=f"https://example.org/{name}.html",
            image_url=f"https://example.org/{name}",
            jurisdiction=jurisdiction,
        )
        assert result.image is not None
        stored[name] = result.image
    services.source_images_analyse(image_ids=[i.pk for i in stored.values()])
    for image in stored.values():
        image.refresh_from_db()
    return stored


@pytest.fixture(autouse=True)
def _empty_media():
    """Files outlive a rolled-back test transaction; start each test with empty media storage."""
    root = Path(settings.MEDIA_ROOT)
    for child in root.iterdir() if root.exists() else []:
        shutil.rmtree(child) if child.is_dir() else child.unlink()
    yield


@pytest.fixture
def indexed(db):
    """img1 shows person01 (as does the probe img2); img3 someone else (see pairs.csv)."""
    return index_photos("img1.jpg", "img3.jpg")
