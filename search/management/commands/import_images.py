from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from search import engine, services

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".heic", ".svg"}


class Command(BaseCommand):
    help = (
        "Index a folder of photos you hold lawfully through the face pipeline, then print a JSON summary "
        "(images, faces, skipped by reason)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory")
        parser.add_argument("--source", required=True, help="name recorded as each image's source")
        parser.add_argument("--jurisdiction", default="", help="ISO 3166 code of the people shown, if known")
        parser.add_argument("--recursive", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        folder = Path(options["directory"])
        if not folder.is_dir():
            raise CommandError(f"{folder} is not a folder")
        pattern = "**/*" if options["recursive"] else "*"
        files = sorted(p for p in folder.glob(pattern) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        skipped: Counter[str] = Counter()
        stored: list[int] = []
        for path in files:
            try:
                result = services.source_image_store(
                    data=path.read_bytes(),
                    source_label=options["source"],
                    original_name=path.name,
                    jurisdiction=options["jurisdiction"],
                )
            except engine.ImageRejected as exc:
                skipped[exc.code] += 1
                self.stderr.write(f"{path.name}: {exc.message}")
                continue
            if result.skipped:
                skipped[result.skipped] += 1
            if result.created and result.image is not None:
                stored.append(result.image.pk)
        faces = 0
        # The same service the gpu workers run, in batches, in this process.
        for start in range(0, len(stored), settings.FACE_BATCH_SIZE):
            counts = services.source_images_analyse(image_ids=stored[start : start + settings.FACE_BATCH_SIZE])
            faces += counts.faces
            skipped["no_face"] += counts.no_face
            skipped["failed"] += counts.failed
            skipped["face_too_small"] += counts.rejected_faces
            skipped["suppressed_face"] += counts.suppressed_faces
        summary = {
            "images": len(files),
            "stored": len(stored),
            "faces": faces,
            "skipped": {k: v for k, v in sorted(skipped.items()) if v},
        }
        self.stdout.write(json.dumps(summary))
