from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from search import engine, services
from search.models import Face


class Command(BaseCommand):
    help = (
        "Give active faces embedded by an older face pipeline the current pipeline's embedding, in place "
        "(the source photo is read from storage and analysed again; ids, crops and links stay). Prints a JSON "
        "summary. Run it after upgrading the pipeline; it is safe to stop and run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--limit", type=int, help="at most this many source photos in this run")
        parser.add_argument(
            "--dry-run", action="store_true", help="only count the faces of older pipelines"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        version = engine.pipeline_version()
        if options["dry_run"]:
            stale = Face.objects.filter(
                model=engine.model_name(), status=Face.Status.ACTIVE
            ).exclude(pipeline=version)
            by_version = {v or "(unrecorded: dlib-1)": n for v, n in _count_by(stale)}
            self.stdout.write(
                json.dumps(
                    {
                        "pipeline": version,
                        "faces_to_reembed": stale.count(),
                        "by_pipeline": by_version,
                    }
                )
            )
            return
        engine.warm_up()
        counts = services.faces_reembed(limit_images=options["limit"])
        self.stdout.write(json.dumps({"pipeline": version, **asdict(counts)}))


def _count_by(queryset: Any) -> list[tuple[str, int]]:
    from django.db.models import Count

    return [
        (row["pipeline"], row["n"])
        for row in queryset.values("pipeline").annotate(n=Count("id")).order_by("pipeline")
    ]
