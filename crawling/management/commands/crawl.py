from __future__ import annotations

import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from crawling import services
from crawling.models import CrawlJob, Source
from search.models import SourceImage


class Command(BaseCommand):
    help = (
        "Start a crawl of an approved source on the crawl queue. With --wait, wait until it and the face "
        "analysis of its images finish, then print one JSON line of counts."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--source", required=True, help="source name")
        parser.add_argument("--wait", action="store_true")
        parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait at most")

    def handle(self, *args: Any, **options: Any) -> None:
        source = Source.objects.filter(name=options["source"]).first()
        if source is None:
            raise CommandError(f"No source named {options['source']!r}.")
        try:
            job = services.crawl_job_create(source=source)
        except services.CrawlRefused as exc:
            raise CommandError(f"Crawl refused: {exc.reason}") from exc
        if not options["wait"]:
            self.stdout.write(json.dumps({"job": job.pk, "status": job.status}))
            return
        deadline = time.monotonic() + options["timeout"]
        finished = {CrawlJob.Status.DONE, CrawlJob.Status.CANCELLED, CrawlJob.Status.FAILED}
        while time.monotonic() < deadline:
            job.refresh_from_db()
            pending_faces = SourceImage.objects.filter(
                pk__in=job.items.filter(image__isnull=False).values("image_id"),
                status__in=[SourceImage.Status.PENDING, SourceImage.Status.PROCESSING],
            ).exists()
            if job.status in finished and not pending_faces:
                self.stdout.write(json.dumps(services.crawl_job_counts(job)))
                return
            time.sleep(0.5)
        raise CommandError(
            f"Crawl job {job.pk} did not finish within {options['timeout']:.0f} s (it goes on)."
        )
