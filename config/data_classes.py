"""The classes of stored data that a retention policy governs (one policy per class).

Shared by every app that stores such data and registers its sweeper (config.registry); the
policies themselves are compliance's models.
"""

from __future__ import annotations

from django.db import models


class DataClass(models.TextChoices):
    SOURCE_IMAGES = "source_images", "Source images"
    FACES = "faces", "Faces and embeddings"
    FACE_CROPS = "face_crops", "Face crops"
    PROBE_IMAGES = "probe_images", "Probe images"
    PROBE_EMBEDDINGS = "probe_embeddings", "Probe embeddings"
    SEARCH_RESULTS = "search_results", "Search results"
    SUBJECT_REQUESTS = "subject_requests", "Subject-request records"
    ACCESS_PACKAGES = "access_packages", "Access packages"
    AUDIT_EVENTS = "audit_events", "Audit events"
