"""The sweeper that requeues searches and photos whose worker died or whose queue message was lost."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from config.tasks import enqueue
from search.models import SearchRequest, SourceImage
from search.services.ingest import _image_quarantine
from search.services.searches import _search_quarantine


def searches_requeue_stuck(*, older_than: timedelta = timedelta(minutes=5)) -> dict[str, int]:
    """Re-enqueue work whose task was lost (Redis flushed, worker killed); quarantine it after enough tries.

    Only pending (and, for images, processing) rows are looked at: a failed or quarantined item
    is never brought back.
    """
    # Lazy: search.tasks imports search.services (a circle at import time).
    from search.tasks import search_process, source_images_analyse

    max_attempts = settings.FACE_TASK_MAX_ATTEMPTS
    cutoff = timezone.now() - older_than
    counts = {"searches": 0, "images": 0, "failed": 0}
    for search in SearchRequest.objects.filter(
        status=SearchRequest.Status.PENDING, status_changed_at__lt=cutoff
    ):
        if search.attempts >= max_attempts:
            with transaction.atomic():
                locked = SearchRequest.objects.select_for_update().get(pk=search.pk)
                if locked.status == SearchRequest.Status.PENDING:
                    _search_quarantine(locked)
                    counts["failed"] += 1
            continue
        SearchRequest.objects.filter(pk=search.pk).update(status_changed_at=timezone.now())
        enqueue(search_process, search.pk)
        counts["searches"] += 1
    stuck = SourceImage.objects.filter(
        status__in=[SourceImage.Status.PENDING, SourceImage.Status.PROCESSING],
        status_changed_at__lt=cutoff,
    )
    for pk in stuck.filter(attempts__gte=max_attempts).values_list("pk", flat=True):
        with transaction.atomic():
            image = SourceImage.objects.select_for_update().get(pk=pk)
            if image.status in (SourceImage.Status.PENDING, SourceImage.Status.PROCESSING):
                _image_quarantine(image)
                counts["failed"] += 1
    ids = list(
        stuck.exclude(attempts__gte=max_attempts).order_by("pk").values_list("pk", flat=True)
    )
    # An image that was tried before goes alone, so that one poison photo cannot sink a batch.
    retried = set(
        SourceImage.objects.filter(pk__in=ids, attempts__gt=0).values_list("pk", flat=True)
    )
    batches = [[pk] for pk in ids if pk in retried]
    fresh = [pk for pk in ids if pk not in retried]
    batches += [
        fresh[i : i + settings.FACE_BATCH_SIZE]
        for i in range(0, len(fresh), settings.FACE_BATCH_SIZE)
    ]
    for batch in batches:
        SourceImage.objects.filter(pk__in=batch).update(status_changed_at=timezone.now())
        enqueue(source_images_analyse, batch)
    counts["images"] = len(ids)
    return counts
