"""Data-subject requests land here with their issue; the suppression list is defined now.

The crawler and the import check it before any face is stored, so an objector is never
indexed again.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class Suppression(models.Model):
    """One objector's entry. Only hashes of URLs and images are kept, unless the person
    explicitly consented to keep a face template (``template``)."""

    class Kind(models.TextChoices):
        PAGE_URL = "page_url", "Page URL (SHA-256)"
        IMAGE_URL = "image_url", "Image URL (SHA-256)"
        IMAGE = "image", "Image content (SHA-256)"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    value_sha256 = models.CharField(max_length=64)
    request_reference = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "value_sha256"], name="subjects_suppression_unique")]

    def __str__(self) -> str:
        return f"suppression {self.kind}"
