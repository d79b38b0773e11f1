"""The suppression list as ingestion reads it (the crawler, the import, faces_reembed).

An objector's pages, images and (with their explicit consent) face template: whatever matches
is never collected. Only ``search.stewardship.suppression_add`` and ``faces_suppress`` write it.
"""

from __future__ import annotations

import hashlib

from search.models import Suppression


def suppression_hash(value: str) -> str:
    return hashlib.sha256(value.strip().encode()).hexdigest()


def suppression_match(
    *, page_url: str = "", image_url: str = "", image_sha256: str = ""
) -> str | None:
    """The kind of suppression entry that covers this image, or None."""
    wanted = []
    if page_url:
        wanted.append((Suppression.Kind.PAGE_URL, suppression_hash(page_url)))
    if image_url:
        wanted.append((Suppression.Kind.IMAGE_URL, suppression_hash(image_url)))
    if image_sha256:
        wanted.append((Suppression.Kind.IMAGE, image_sha256))
    for kind, digest in wanted:
        if Suppression.objects.filter(kind=kind, value_sha256=digest).exists():
            return str(kind)
    return None


def templates_kept(*, model: str) -> bool:
    """Whether an objector's face template is kept for ``model`` (then ingestion analyses before writing)."""
    return Suppression.objects.filter(kind=Suppression.Kind.TEMPLATE, model=model).exists()


def template_suppresses(*, embedding: list[float], model: str) -> bool:
    """Whether a face matches an objector's template (kept only with their explicit consent)."""
    from pgvector.django import CosineDistance

    from search.calibration import calibration_for

    templates = Suppression.objects.filter(kind=Suppression.Kind.TEMPLATE, model=model)
    if not templates.exists():
        return False
    threshold = calibration_for(model).same_person_threshold()
    return (
        templates.annotate(distance=CosineDistance("template", embedding))
        .filter(distance__lte=threshold)
        .exists()
    )
