"""Crawl tasks (queue ``crawl``): each run works for a bounded time, then re-enqueues itself."""

from __future__ import annotations

from celery import shared_task

from config.tasks import enqueue
from crawling import services


@shared_task(name="crawling.tasks.crawl_job_run")
def crawl_job_run(job_id: int) -> bool:
    """Advance a crawl job; re-enqueue while work remains (the frontier is in the database)."""
    more = services.crawl_job_run(job_id=job_id)
    if more:
        enqueue(crawl_job_run, job_id)
    return more


@shared_task(name="crawling.tasks.requeue_stalled")
def requeue_stalled() -> int:
    """Re-enqueue crawl jobs whose worker died."""
    return services.crawl_jobs_requeue_stalled()
