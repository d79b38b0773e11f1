"""The suppression list as other apps see it (crawler, import)."""

from __future__ import annotations

import hashlib

from subjects.models import Suppression


def suppression_hash(value: str) -> str:
    return hashlib.sha256(value.strip().encode()).hexdigest()


def suppression_match(*, page_url: str = "", image_url: str = "", image_sha256: str = "") -> str | None:
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


def template_suppresses(*, embedding: list[float], model: str) -> bool:
    """Whether a face matches an objector's template (kept only with their explicit consent)."""
    from pgvector.django import CosineDistance

    from search.calibration import calibration_for

    templates = Suppression.objects.filter(kind=Suppression.Kind.TEMPLATE, model=model)
    if not templates.exists():
        return False
    threshold = calibration_for(model).threshold
    return templates.annotate(distance=CosineDistance("template", embedding)).filter(distance__lte=threshold).exists()


def organisation_notice_list(*, organisation_id: int, limit: int = 10) -> list[object]:
    """Art 19 notices for a customer organisation, newest first."""
    from subjects.models import OrganisationNotice

    return list(OrganisationNotice.objects.filter(organisation_id=organisation_id)[:limit])
