"""Writes for search: ingesting source photos, customer searches, the stuck-work sweeper, re-embedding.

Callers import from here; the names below are the ones the rest of the project and the tests use.
"""

from __future__ import annotations

from search.services.ingest import (
    AnalyseCounts,
    StoreResult,
    quarantine_reason,
    source_image_store,
    source_images_analyse,
    storage_files_delete,
)
from search.services.reembed import REEMBED_MIN_IOU, ReembedCounts, faces_reembed
from search.services.searches import (
    SearchLimitExceeded,
    search_choose_face,
    search_create,
    search_process_probe,
    search_results_viewed,
)
from search.services.sweeper import searches_requeue_stuck

__all__ = [
    "REEMBED_MIN_IOU",
    "AnalyseCounts",
    "ReembedCounts",
    "SearchLimitExceeded",
    "StoreResult",
    "faces_reembed",
    "quarantine_reason",
    "search_choose_face",
    "search_create",
    "search_process_probe",
    "search_results_viewed",
    "searches_requeue_stuck",
    "source_image_store",
    "source_images_analyse",
    "storage_files_delete",
]
