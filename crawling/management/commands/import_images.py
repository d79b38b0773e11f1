from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from crawling import services as crawling_services
from search import engine, services

IMAGE_SUFFIXES = {
    ".jpg",
    ".jpeg",
    ".png",
    ".webp",
    ".gif",
    ".bmp",
    ".tif",
    ".tiff",
    ".heic",
    ".svg",
}


class Command(BaseCommand):
    help = (
        "Index a folder of photos you hold lawfully (and its subfolders) into an approved local source "
        "(source_add --local), through the face pipeline, then print a JSON summary "
        "(images, stored, faces, skipped by reason). Exits non-zero when nothing importable was found."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory")
        parser.add_argument(
            "--source",
            required=True,
            help="name of an approved local source (source_add --local …, approved by a DPO)",
        )
        parser.add_argument(
            "--recursive",
            action=argparse.BooleanOptionalAction,
            default=True,
            help="walk subfolders too (the default); --no-recursive reads only the folder itself",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        folder = Path(options["directory"])
        if not folder.is_dir():
            raise CommandError(f"{folder} is not a folder.")
        try:
            source = crawling_services.import_source_open(name=options["source"])
        except crawling_services.CrawlRefused as exc:
            raise CommandError(f"Import refused: {exc.reason}") from exc
        pattern = "**/*" if options["recursive"] else "*"
        files = sorted(
            p
            for p in folder.glob(pattern)
            if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
        )
        if not files:
            where = (
                "in it or its subfolders"
                if options["recursive"]
                else "in it (subfolders not searched)"
            )
            raise CommandError(
                f"Nothing to import: no photo ({', '.join(sorted(IMAGE_SUFFIXES))}) found in {folder} {where}."
            )
        skipped: Counter[str] = Counter()
        stored: list[int] = []
        pending: list[int] = []
        analysed: list[services.AnalyseCounts] = []
        usable = 0
        for path in files:
            try:
                result = crawling_services.import_file_store(
                    source=source, data=path.read_bytes(), original_name=path.name
                )
            except engine.ImageRejected as exc:
                skipped[exc.code] += 1
                self.stderr.write(f"{path.name}: {exc.message}")
                continue
            usable += 1
            if result.skipped:
                skipped[result.skipped] += (
                    1  # "suppressed": an objector's photo, refused before anything was written
                )
            if result.created and result.image is not None:
                stored.append(result.image.pk)
                if result.analysed is not None:
                    analysed.append(
                        result.analysed
                    )  # analysed before it was stored: indexed already
                else:
                    pending.append(result.image.pk)
        # The same service the gpu workers run, in batches, in this process.
        for start in range(0, len(pending), settings.FACE_BATCH_SIZE):
            analysed.append(
                services.source_images_analyse(
                    image_ids=pending[start : start + settings.FACE_BATCH_SIZE]
                )
            )
        faces = sum(c.faces for c in analysed)
        # A photo an objector's template matched at analysis is deleted: it is not counted as stored.
        refused = sum(c.suppressed_images for c in analysed)
        skipped["suppressed"] += refused
        skipped["no_face"] += sum(c.no_face for c in analysed)
        skipped["face_too_small"] += sum(c.too_small for c in analysed)
        skipped["failed"] += sum(c.failed for c in analysed)
        summary = {
            "source": source.name,
            "images": len(files),
            "stored": len(stored) - refused,
            "faces": faces,
            "skipped": {k: v for k, v in sorted(skipped.items()) if v},
        }
        crawling_services.import_recorded(source=source, summary=summary)
        self.stdout.write(json.dumps(summary))
        if not usable:
            raise CommandError(
                f"Nothing to import: none of the {len(files)} files in {folder} is a usable photo."
            )
