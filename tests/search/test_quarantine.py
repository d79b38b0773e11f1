"""Attempts and quarantine without a worker: the sweeper's side, and the attempt committed before the work."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.test import TestCase
from django.utils import timezone

from compliance.models import AuditEvent
from search import services
from search.models import SearchRequest, SourceImage
from tests.search import photos

FIELDS = {
    "purpose": "Identify a fraud suspect",
    "lawful_basis": "legitimate_interests",
    "case_reference": "CASE-3",
}


def probes_on_disk() -> list[Path]:
    folder = Path(settings.MEDIA_ROOT) / "probes"
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def _stale(model, pk: int, **fields: object) -> None:
    model.objects.filter(pk=pk).update(
        status_changed_at=timezone.now() - timedelta(minutes=30), **fields
    )


@pytest.mark.django_db
def test_sweeper_quarantines_a_search_at_the_limit_and_deletes_its_probe(teammate):
    """Bad input: a search whose task started FACE_TASK_MAX_ATTEMPTS times and never finished."""
    search = services.search_create(user=teammate, image_data=photos.photo("img2.jpg"), **FIELDS)
    assert probes_on_disk()
    _stale(SearchRequest, search.pk, attempts=settings.FACE_TASK_MAX_ATTEMPTS)
    with TestCase.captureOnCommitCallbacks(execute=True):
        counts = services.searches_requeue_stuck()
    assert counts == {"searches": 0, "images": 0, "failed": 1}
    search.refresh_from_db()
    assert search.status == SearchRequest.Status.FAILED and not search.probe
    assert search.error == services.quarantine_reason(settings.FACE_TASK_MAX_ATTEMPTS)
    assert probes_on_disk() == []
    assert (
        AuditEvent.objects.filter(
            action="search.search.quarantined", target_id=str(search.pk)
        ).count()
        == 1
    )
    # A second sweep leaves it alone.
    _stale(SearchRequest, search.pk)
    assert services.searches_requeue_stuck()["failed"] == 0


@pytest.mark.django_db
def test_task_at_the_limit_quarantines_instead_of_running(teammate):
    """Bad input: a redelivered task for a photo that already stopped the model N times."""
    search = services.search_create(user=teammate, image_data=photos.photo("img2.jpg"), **FIELDS)
    SearchRequest.objects.filter(pk=search.pk).update(attempts=settings.FACE_TASK_MAX_ATTEMPTS)
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.search_process_probe(search_id=search.pk)
    search.refresh_from_db()
    assert search.status == SearchRequest.Status.FAILED
    assert search.attempts == settings.FACE_TASK_MAX_ATTEMPTS  # not counted again
    assert "stopped the face model" in search.error and probes_on_disk() == []


@pytest.mark.django_db
def test_sweeper_quarantines_source_images_and_sends_retried_ones_alone(db):
    """Bad input: a stuck batch mixing a photo at the limit, one tried before and two never tried."""
    images = [
        services.source_image_store(data=photos.photo(name), source_label="sweep test").image
        for name in ("img1.jpg", "img3.jpg", "img5.jpg", "couple.jpg")
    ]
    poison, retried, fresh, fresh2 = images
    _stale(
        SourceImage,
        poison.pk,
        status=SourceImage.Status.PROCESSING,
        attempts=settings.FACE_TASK_MAX_ATTEMPTS,
    )
    _stale(SourceImage, retried.pk, status=SourceImage.Status.PROCESSING, attempts=1)
    _stale(SourceImage, fresh.pk)
    _stale(SourceImage, fresh2.pk)
    from config.celery import app

    app.control.purge()
    counts = services.searches_requeue_stuck()
    assert counts["failed"] == 1 and counts["images"] == 3
    poison.refresh_from_db()
    assert poison.status == SourceImage.Status.FAILED
    assert poison.error == services.quarantine_reason(settings.FACE_TASK_MAX_ATTEMPTS)
    assert AuditEvent.objects.filter(
        action="search.source_image.quarantined", target_id=str(poison.pk)
    ).exists()
    # The retried image goes in a task of its own, the fresh one in a normal batch.
    with app.connection_for_write() as conn:
        queued = []
        while (message := conn.default_channel.basic_get("gpu", no_ack=True)) is not None:
            queued.append(message.headers["argsrepr"])
    assert sorted(queued) == sorted([f"([{retried.pk}],)", f"([{fresh.pk}, {fresh2.pk}],)"])
