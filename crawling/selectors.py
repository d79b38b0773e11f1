"""Reads for crawling: the sources that hold data, for the public notice and the Art 30 record."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q

from crawling.models import Source


@dataclass(frozen=True)
class UndeclaredLabel:
    """Photos stored under a name that no registered source covers (imported before imports needed one)."""

    name: str
    images: int


def sources_with_data() -> list[Source]:
    """Every source that is approved or still holds photos, crawled or imported, each annotated with ``images_count``."""
    return list(
        Source.objects.annotate(images_count=Count("images"))
        .filter(Q(status=Source.Status.APPROVED) | Q(images_count__gt=0))
        .order_by("name")
    )


def undeclared_labels() -> list[UndeclaredLabel]:
    """Photos linked to no source, by the name they were stored under."""
    from search.models import SourceImage

    rows = (
        SourceImage.objects.filter(source__isnull=True)
        .values("source_label")
        .annotate(n=Count("id"))
        .order_by("source_label")
    )
    return [UndeclaredLabel(name=row["source_label"], images=row["n"]) for row in rows]
