"""Face tasks (queue ``gpu``): thin wrappers that load by id and call a service."""

from __future__ import annotations

from dataclasses import asdict

from celery import shared_task
from celery.signals import worker_process_init

from search import services


@worker_process_init.connect
def _load_model(**kwargs: object) -> None:
    """Load the face model once per worker process, before the first task."""
    from django.conf import settings

    if getattr(settings, "FACE_PRELOAD_IN_WORKER", True):
        from search import engine

        engine.warm_up()


@shared_task(
    name="search.tasks.search_process", autoretry_for=(OSError,), retry_backoff=True, max_retries=3
)
def search_process(search_id: int) -> str | None:
    """Embed a search's probe photo, delete it, and run the search (idempotent)."""
    search = services.search_process_probe(search_id=search_id)
    return search.status if search else None


@shared_task(
    name="search.tasks.source_images_analyse",
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=3,
)
def source_images_analyse(image_ids: list[int]) -> dict[str, int]:
    """Detect and embed the faces of a batch of source images (idempotent).

    A batch that a dead worker left behind is split into one task per image, so that one poison
    photo is quarantined alone.
    """
    return asdict(services.source_images_analyse(image_ids=image_ids, isolate_retried=True))


@shared_task(name="search.tasks.requeue_stuck")
def requeue_stuck() -> dict[str, int]:
    """Re-enqueue searches and images whose task was lost."""
    return services.searches_requeue_stuck()
