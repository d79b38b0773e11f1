"""Re-embedding stored faces with the current pipeline, matched to the old faces by box overlap."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from audit.services import audit_record
from config.storage import StorageUnavailable
from search import engine
from search.models import Face, SourceImage
from search.suppression import template_suppresses


def _box_iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ax1, ay1, bx1, by1 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    w, h = max(0, min(ax1, bx1) - max(a[0], b[0])), max(0, min(ay1, by1) - max(a[1], b[1]))
    union = a[2] * a[3] + b[2] * b[3] - w * h
    return w * h / union if union > 0 else 0.0


# A face re-detected by the current pipeline is the stored one when their boxes overlap this much.
REEMBED_MIN_IOU = 0.5


@dataclass
class ReembedCounts:
    images: int = 0  # source photos read again
    faces: int = 0  # faces given the current pipeline's embedding, in place
    unmatched: int = 0  # stored faces the current pipeline no longer finds there: left as they were
    suppressed: int = (
        0  # re-embedded faces that an objector's kept template now matches: suppressed
    )
    missing: int = 0  # photos whose file is gone (or unreadable): their faces left as they were
    left: int = (
        0  # active faces of older pipelines after this run (unmatched, missing, beyond --limit)
    )


def faces_reembed(*, limit_images: int | None = None) -> ReembedCounts:
    """Give active faces embedded by an older pipeline the current pipeline's embedding, in place.

    After a pipeline change (``engine.PIPELINE_VERSION`` or the detection options) the stored faces
    and new probes are embedded differently, and the calibration holds for the current pipeline only.
    Each source photo is read from storage and analysed again; each stored face takes the embedding of
    the re-detected face whose box overlaps it (IoU >= 0.5). The row, its id, crop, status and every
    link to it (subject-request candidates, search hits) stay. A face the pipeline no longer finds is
    left and counted. Faces found now but not before are not added: indexing is ingestion's job, with
    its source checks. Restricted and suppressed faces are not touched (restriction means no use). A
    re-embedded face that an objector's kept template now matches is suppressed, as ingestion would.
    One audit event per photo, in the same transaction; no embedding is logged.
    """

    model, version = engine.model_name(), engine.pipeline_version()
    stale = Face.objects.filter(model=model, status=Face.Status.ACTIVE).exclude(pipeline=version)
    image_ids = list(stale.order_by("image_id").values_list("image_id", flat=True).distinct())
    if limit_images is not None:
        image_ids = image_ids[:limit_images]
    counts = ReembedCounts()
    for image in SourceImage.objects.filter(pk__in=image_ids).order_by("pk"):
        try:
            with image.file.open("rb") as fh:
                data = fh.read()
            decoded = engine.decode_image(data)
        except StorageUnavailable:
            raise  # the storage is down: stop, nothing half done; run again later
        except (engine.ImageRejected, OSError, ValueError):
            counts.missing += 1
            continue
        analysis = engine.analyse(decoded)
        counts.images += 1
        with transaction.atomic():
            faces = list(
                Face.objects.select_for_update()
                .filter(image=image, model=model, status=Face.Status.ACTIVE)
                .exclude(pipeline=version)
            )
            done = suppressed = unmatched = 0
            for face in faces:
                box = (face.box_x, face.box_y, face.box_w, face.box_h)
                scored = [(_box_iou(box, f.box), f) for f in analysis.faces if f.model == model]
                best = max(scored, key=lambda s: s[0], default=None)
                if best is None or best[0] < REEMBED_MIN_IOU:
                    unmatched += 1
                    continue
                face.embedding, face.pipeline = best[1].embedding.tolist(), best[1].pipeline
                fields = ["embedding", "pipeline"]
                if template_suppresses(embedding=face.embedding, model=model):
                    face.status = Face.Status.SUPPRESSED
                    fields.append("status")
                    suppressed += 1
                face.save(update_fields=fields)
                done += 1
            audit_record(
                actor=None,
                action="search.faces.reembedded",
                target=image,
                outcome="success",
                details={
                    "faces": done,
                    "unmatched": unmatched,
                    "suppressed": suppressed,
                    "pipeline": version,
                },
            )
        counts.faces += done
        counts.unmatched += unmatched
        counts.suppressed += suppressed
    counts.left = stale.count()  # unmatched faces, missing photos and what --limit left
    return counts
