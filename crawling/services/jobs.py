"""Crawl jobs: created, run in time-boxed slices by a worker, counted, and requeued when stalled."""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from audit.services import audit_record
from config.tasks import enqueue, enqueue_on_commit
from crawling.fetcher import Fetcher
from crawling.models import CrawlItem, CrawlJob, Source
from crawling.services.pages import _process_image, _process_page, _seed_sitemaps
from crawling.services.sources import CrawlRefused, _crawl_gate
from search.models import Face
from search.tasks import source_images_analyse


def crawl_job_create(*, source: Source, actor: Any = None, ip: str | None = None) -> CrawlJob:
    """Start a crawl if the lawfulness gate lets it; a refusal is audited (and committed) too."""
    refusal = ""
    with transaction.atomic():
        source = Source.objects.select_for_update().get(
            pk=source.pk
        )  # the gate reads the current state
        try:
            _crawl_gate(source)
        except CrawlRefused as exc:
            refusal = exc.reason
            audit_record(
                actor=actor,
                action="crawling.job.refused",
                target=source,
                outcome="refused",
                ip=ip,
                details={"reason": exc.reason},
            )
        else:
            job = CrawlJob.objects.create(source=source, requested_by=actor)
            CrawlItem.objects.bulk_create(
                [CrawlItem(job=job, kind=CrawlItem.Kind.PAGE, url=u, depth=0) for u in source.scope]
            )
            audit_record(
                actor=actor, action="crawling.job.created", target=job, outcome="success", ip=ip
            )
            # Lazy: crawling.tasks imports crawling.services (a circle at import time).
            from crawling.tasks import crawl_job_run

            enqueue_on_commit(crawl_job_run, job.pk)
    if refusal:
        raise CrawlRefused(refusal)
    return job


@transaction.atomic
def crawl_job_set_status(
    *, job: CrawlJob, status: str, actor: Any, ip: str | None = None
) -> CrawlJob:
    """Pause, resume or cancel a job."""
    allowed: dict[str, set[str]] = {
        CrawlJob.Status.PAUSED: {CrawlJob.Status.QUEUED, CrawlJob.Status.RUNNING},
        CrawlJob.Status.QUEUED: {CrawlJob.Status.PAUSED},  # resume
        CrawlJob.Status.CANCELLED: {
            CrawlJob.Status.QUEUED,
            CrawlJob.Status.RUNNING,
            CrawlJob.Status.PAUSED,
        },
    }
    job = CrawlJob.objects.select_for_update().get(pk=job.pk)
    if status not in allowed or job.status not in allowed[status]:
        raise ValidationError(f"A {job.get_status_display().lower()} job cannot become {status}.")
    if status == CrawlJob.Status.QUEUED:
        # The gate reads the source as it is now, locked, so a change that withdraws its approval
        # (source_update) is either seen here or waits for this resume (whose job it then cancels).
        _crawl_gate(Source.objects.select_for_update().get(pk=job.source_id))
    job.status = status
    if status == CrawlJob.Status.CANCELLED:
        job.finished_at = timezone.now()
    job.save()
    audit_record(
        actor=actor,
        action=f"crawling.job.{ {'paused': 'paused', 'queued': 'resumed', 'cancelled': 'cancelled'}[status] }",
        target=job,
        outcome="success",
        ip=ip,
    )
    if status == CrawlJob.Status.QUEUED:
        # Lazy: crawling.tasks imports crawling.services (a circle at import time).
        from crawling.tasks import crawl_job_run

        enqueue_on_commit(crawl_job_run, job.pk)
    return job


def _record(job: CrawlJob, counts: Counter[str], skipped: Counter[str]) -> None:
    """Add this step's counts to the job (one runner per job at a time, so a row lock suffices)."""
    with transaction.atomic():
        locked = CrawlJob.objects.select_for_update().get(pk=job.pk)
        merged = Counter(locked.skipped)
        merged.update(skipped)
        CrawlJob.objects.filter(pk=job.pk).update(
            pages=F("pages") + counts["pages"],
            images_seen=F("images_seen") + counts["images_seen"],
            stored=F("stored") + counts["stored"],
            skipped=dict(merged),
            heartbeat_at=timezone.now(),
        )
    counts.clear()
    skipped.clear()


def crawl_job_run(*, job_id: int, budget_seconds: float = 60.0) -> bool:
    """Work through the job's frontier for up to ``budget_seconds``; True when more remains.

    The frontier lives in the database (``CrawlItem``), so a killed worker loses nothing and a
    resumed job never fetches an item twice.
    """
    with transaction.atomic():
        job = CrawlJob.objects.select_for_update().select_related("source").get(pk=job_id)
        if job.status not in (CrawlJob.Status.QUEUED, CrawlJob.Status.RUNNING):
            return False
        try:
            _crawl_gate(job.source)
        except CrawlRefused as exc:
            job.status, job.error, job.finished_at = (
                CrawlJob.Status.CANCELLED,
                exc.reason[:300],
                timezone.now(),
            )
            job.save()
            return False
        first = job.started_at is None
        job.status, job.heartbeat_at = CrawlJob.Status.RUNNING, timezone.now()
        job.started_at = job.started_at or timezone.now()
        job.save()
    source = job.source
    fetcher = Fetcher(
        scope=source.scope,
        rate=settings.CRAWL_RATE_OVERRIDE or source.crawl_rate,
        timeout=settings.CRAWL_TIMEOUT_SECONDS,
        max_bytes=settings.CRAWL_MAX_BYTES,
    )
    counts: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    stored_ids: list[int] = []
    deadline = time.monotonic() + budget_seconds
    try:
        if first:
            _seed_sitemaps(job, fetcher, skipped)
        while time.monotonic() < deadline:
            job.refresh_from_db(fields=["status"])
            if job.status != CrawlJob.Status.RUNNING:
                return False
            item = _next_item(job)
            if item is None:
                break
            if item.kind == CrawlItem.Kind.PAGE:
                _process_page(job, item, fetcher, counts, skipped)
            else:
                image_id = _process_image(job, item, fetcher, counts, skipped)
                if image_id:
                    stored_ids.append(image_id)
            if len(stored_ids) >= settings.FACE_BATCH_SIZE:
                _analyse_later(stored_ids)
                stored_ids = []
            _record(job, counts, skipped)
        else:
            return True
    finally:
        _record(job, counts, skipped)
        _analyse_later(stored_ids)
        fetcher.close()
    with transaction.atomic():
        job = CrawlJob.objects.select_for_update().get(pk=job.pk)
        if job.status == CrawlJob.Status.RUNNING:
            job.status, job.finished_at = CrawlJob.Status.DONE, timezone.now()
            job.save()
            audit_record(
                actor=None,
                action="crawling.job.completed",
                target=job,
                outcome="success",
                details={
                    "pages": job.pages,
                    "images_seen": job.images_seen,
                    "stored": job.stored,
                    "skipped": job.skipped,
                },
            )
    return False


def _analyse_later(ids: list[int]) -> None:
    if ids:
        batch = list(ids)
        enqueue_on_commit(source_images_analyse, batch)


def _next_item(job: CrawlJob) -> CrawlItem | None:
    # Images before pages keeps the frontier small; ids keep the order stable across restarts.
    return (
        CrawlItem.objects.filter(job=job, status=CrawlItem.Status.PENDING)
        .order_by("-kind", "id")  # "page" < "image" reversed: images first
        .first()
    )


def crawl_job_counts(job: CrawlJob) -> dict[str, Any]:
    """The job's counts as ``crawl --wait`` and the progress page show them."""

    image_ids = CrawlItem.objects.filter(job=job, image__isnull=False).values_list(
        "image_id", flat=True
    )
    return {
        "job": job.pk,
        "source": job.source.name,
        "status": job.status,
        "pages": job.pages,
        "images_seen": job.images_seen,
        "stored": job.stored,
        "faces": Face.objects.filter(image_id__in=image_ids).count(),
        "skipped": dict(sorted(job.skipped.items())),
    }


def crawl_jobs_requeue_stalled(*, stalled_after_seconds: int = 300) -> int:
    """Re-enqueue running or queued jobs whose worker went away (no heartbeat)."""

    # Lazy: crawling.tasks imports crawling.services (a circle at import time).
    from crawling.tasks import crawl_job_run

    cutoff = timezone.now() - timedelta(seconds=stalled_after_seconds)
    stalled = CrawlJob.objects.filter(
        status__in=[CrawlJob.Status.QUEUED, CrawlJob.Status.RUNNING]
    ).filter(heartbeat_at__lt=cutoff) | CrawlJob.objects.filter(
        status=CrawlJob.Status.QUEUED, heartbeat_at__isnull=True, created_at__lt=cutoff
    )
    ids = list(stalled.values_list("pk", flat=True))
    for job_id in ids:
        CrawlJob.objects.filter(pk=job_id).update(heartbeat_at=timezone.now())
        enqueue(crawl_job_run, job_id)
    return len(ids)
