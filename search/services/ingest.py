"""Ingest: a source photo is stored (deduplicated, suppression-checked), then analysed in batches.

Analysis counts each attempt before the work, so a worker that dies mid-batch leaves it behind;
a photo that keeps failing is quarantined alone.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from audit.services import audit_record
from config.storage import StorageUnavailable
from config.tasks import enqueue
from search import engine
from search.models import Face, SourceImage
from search.suppression import suppression_match, template_suppresses, templates_kept


def _excluded(jurisdiction: str) -> bool:
    code = (jurisdiction or "").upper()
    excluded = {c.upper() for c in settings.EXCLUDED_JURISDICTIONS}
    return bool(code) and (code in excluded or code.split("-")[0] in excluded)


@dataclass(frozen=True)
class StoreResult:
    image: SourceImage | None
    created: bool
    skipped: str = ""  # reason code when not stored
    # Set when the photo was analysed before it was stored (an objector's template is kept): its faces
    # are indexed already and the worker has nothing left to do for it.
    analysed: AnalyseCounts | None = None


def _template_suppressions_exist(model: str) -> bool:
    """Whether an objector's face template is kept for ``model``: then every photo is analysed before writing."""

    return templates_kept(model=model)


def _template_match(analysis: engine.Analysis) -> bool:
    """Whether any face of the photo matches an objector's kept template."""

    return any(
        template_suppresses(embedding=f.embedding.tolist(), model=f.model) for f in analysis.faces
    )


def source_image_store(
    *,
    data: bytes,
    source_label: str,
    page_url: str = "",
    image_url: str = "",
    original_name: str = "",
    jurisdiction: str = "",
    fetched_at: Any = None,
    http_status: int | None = None,
    actor: Any = None,
    source: Any = None,
) -> StoreResult:
    """Validate and store one source image (deduplicated by SHA-256), pending face analysis.

    Every import and crawl goes through here, and the decision is taken before anything is written
    (Art 21: an objector is never collected again): the page and image URLs and the content hash are
    checked against the suppression list; when an objector's face template is kept for the model, the
    photo is analysed in memory first and refused (``skipped="suppressed"``) if any face in it matches
    one, whatever its bytes (a re-saved or resized copy too). A refused photo leaves no file and no row:
    the caller only counts it. A photo analysed here is indexed at once (``analysed``), not twice.

    ``source`` is the approved crawling ``Source`` whose declarations cover the image; an existing copy
    that no source covered yet is linked to it.

    Raises ImageRejected for files that are not usable photos; nothing is written then.
    """

    decoded = engine.decode_image(data)
    if _excluded(jurisdiction):
        return StoreResult(image=None, created=False, skipped="excluded_jurisdiction")
    digest = hashlib.sha256(data).hexdigest()
    if suppression_match(page_url=page_url, image_url=image_url, image_sha256=digest):
        return StoreResult(
            image=None, created=False, skipped="suppressed"
        )  # an objector: never indexed again
    analysis: engine.Analysis | None = None
    if not SourceImage.objects.filter(sha256=digest).exists() and _template_suppressions_exist(
        engine.model_name()
    ):
        analysis = engine.analyse(decoded)
        if _template_match(analysis):
            return StoreResult(
                image=None, created=False, skipped="suppressed"
            )  # nothing written, not even a row
    now = timezone.now()
    with transaction.atomic():
        existing = SourceImage.objects.select_for_update().filter(sha256=digest).first()
        if existing is not None:
            existing.last_seen = now
            fields = ["last_seen"]
            if source is not None and existing.source_id is None:
                existing.source = source
                fields.append("source")
                audit_record(
                    actor=actor,
                    action="search.source_image.linked",
                    target=existing,
                    outcome="success",
                    details={"source": source.name},
                )
            existing.save(update_fields=fields)
            return StoreResult(image=existing, created=False, skipped="duplicate")
        image = SourceImage(
            sha256=digest,
            width=decoded.width,
            height=decoded.height,
            format=decoded.format,
            byte_size=len(data),
            source_label=source_label,
            source=source,
            page_url=page_url,
            image_url=image_url,
            original_name=original_name[:255],
            jurisdiction=jurisdiction.upper(),
            fetched_at=fetched_at,
            http_status=http_status,
            first_seen=now,
            last_seen=now,
        )
        image.file.save(
            f"{digest[:2]}/{digest}.{decoded.format.lower()}", ContentFile(data), save=False
        )
        try:
            image.save()
            audit_record(
                actor=actor,
                action="search.source_image.stored",
                target=image,
                outcome="success",
                details={
                    "source": source_label,
                    "jurisdiction": image.jurisdiction,
                    "bytes": len(data),
                },
            )
        except Exception:
            default_storage.delete(str(image.file.name))
            raise
    if analysis is None:
        return StoreResult(image=image, created=True)
    counts = AnalyseCounts()
    _analysis_record(image, decoded, analysis, counts)  # the worker finds it analysed and skips it
    image.refresh_from_db()
    return StoreResult(image=image, created=True, analysed=counts)


@dataclass
class AnalyseCounts:
    images: int = 0
    faces: int = 0
    no_face: int = 0  # photos without a face at all
    too_small: int = 0  # photos whose only faces are too small to use
    failed: int = 0
    rejected_faces: int = 0
    suppressed_faces: int = 0
    suppressed_images: int = 0  # photos refused because a face matched an objector's template


def source_images_analyse(*, image_ids: list[int], isolate_retried: bool = False) -> AnalyseCounts:
    """Detect and embed the faces of pending images, in one model batch. Idempotent.

    Images already analysed are skipped; a retry after a crash replaces partial results. Each
    image's attempt is committed before the work; one at ``FACE_TASK_MAX_ATTEMPTS`` is quarantined
    instead. With ``isolate_retried`` (the task), a batch holding an image tried before is re-queued
    as one task per image instead of being run. A photo with a face that matches an objector's
    template (one kept after it was stored) is deleted, file and row, as ingestion would have refused it.
    """
    counts = AnalyseCounts()
    claimed: list[SourceImage] = []
    # The attempt is counted and committed before the work, so a worker that dies mid-batch
    # (the face model crashed, OOM, SIGKILL) still leaves the count behind.
    with transaction.atomic():
        rows = list(
            SourceImage.objects.select_for_update(skip_locked=True).filter(
                pk__in=image_ids,
                status__in=[SourceImage.Status.PENDING, SourceImage.Status.PROCESSING],
            )
        )
        if isolate_retried and len(rows) > 1 and any(row.attempts > 0 for row in rows):
            # A batch with these images died before: one task each, so that one poison photo
            # is quarantined alone instead of taking the whole batch with it.
            # Lazy: search.tasks imports search.services (a circle at import time).
            from search.tasks import source_images_analyse as analyse_task

            ids = [row.pk for row in rows]
            transaction.on_commit(lambda: [enqueue(analyse_task, [pk]) for pk in ids])
            return counts
        for image in rows:
            if image.attempts >= settings.FACE_TASK_MAX_ATTEMPTS:
                _image_quarantine(image)
                counts.failed += 1
                continue
            image.status = SourceImage.Status.PROCESSING
            image.status_changed_at = timezone.now()
            image.attempts += 1
            image.save(update_fields=["status", "status_changed_at", "attempts"])
            claimed.append(image)
    decoded: list[tuple[SourceImage, engine.DecodedImage]] = []
    for image in claimed:
        try:
            with image.file.open("rb") as fh:
                data = fh.read()
            decoded.append((image, engine.decode_image(data)))
        except StorageUnavailable:
            # The object storage is down, not the photo at fault: no attempt counts; the task retries.
            _attempts_uncount(SourceImage, [i.pk for i in claimed])
            raise
        except (engine.ImageRejected, OSError) as exc:
            _image_finish(
                image,
                status=SourceImage.Status.FAILED,
                error=str(exc)[:300],
                faces=[],
                decoded=None,
            )
            counts.failed += 1
    analyses = engine.analyse_many([d for _, d in decoded]) if decoded else []
    for (image, pixels), analysis in zip(decoded, analyses, strict=True):
        if _template_match(analysis):
            # An objector who let us keep their face template is never collected again, whatever the photo.
            _image_suppress(image, faces=len(analysis.faces))
            counts.suppressed_images += 1
            counts.suppressed_faces += len(analysis.faces)
            continue
        _analysis_record(image, pixels, analysis, counts)
    return counts


def _analysis_record(
    image: SourceImage,
    pixels: engine.DecodedImage,
    analysis: engine.Analysis,
    counts: AnalyseCounts,
) -> None:
    """Index the analysed faces of one photo; a photo with none says why (no face, or too small)."""
    counts.images += 1
    counts.rejected_faces += len(analysis.rejected)
    if analysis.faces:
        _image_finish(
            image, status=SourceImage.Status.DONE, error="", faces=analysis.faces, decoded=pixels
        )
        counts.faces += len(analysis.faces)
    elif analysis.rejected:
        _image_finish(
            image,
            status=SourceImage.Status.NO_FACE,
            error=analysis.rejected[0][1],
            faces=[],
            decoded=pixels,
        )
        counts.too_small += 1
    else:
        _image_finish(
            image,
            status=SourceImage.Status.NO_FACE,
            error="no face found",
            faces=[],
            decoded=pixels,
        )
        counts.no_face += 1


def _image_suppress(image: SourceImage, *, faces: int) -> None:
    """Delete a stored photo that shows an objector (file and row); the audit keeps only counts."""
    with transaction.atomic():
        locked = SourceImage.objects.select_for_update().filter(pk=image.pk).first()
        if locked is None:
            return
        names = [str(locked.file.name)] if locked.file else []
        names += [str(f.crop.name) for f in locked.faces.all() if f.crop]
        audit_record(
            actor=None,
            action="search.source_image.suppressed",
            target=locked,
            outcome="success",
            details={"reason": "objector_template", "faces": faces, "source": locked.source_label},
        )
        locked.delete()
        transaction.on_commit(lambda: storage_files_delete(names))


def _image_finish(
    image: SourceImage,
    *,
    status: str,
    error: str,
    faces: list[engine.DetectedFace],
    decoded: engine.DecodedImage | None,
) -> None:
    written: list[str] = []
    expires = timezone.now() + timedelta(days=settings.FACE_RETENTION_DAYS)
    try:
        with transaction.atomic():
            locked = SourceImage.objects.select_for_update().get(pk=image.pk)
            old = list(locked.faces.all())
            locked.faces.all().delete()  # a retry replaces what a crashed attempt left
            for face in faces:
                assert decoded is not None
                row = Face(
                    image=locked,
                    box_x=face.box[0],
                    box_y=face.box[1],
                    box_w=face.box[2],
                    box_h=face.box[3],
                    detection_score=face.score,
                    embedding=face.embedding.tolist(),
                    model=face.model,
                    detector=face.detector,
                    pipeline=face.pipeline,
                    jurisdiction=locked.jurisdiction,
                    expires_at=expires,
                )
                row.crop.save(
                    f"{locked.sha256[:2]}/{locked.sha256}-{face.box[0]}-{face.box[1]}.jpg",
                    ContentFile(face.crop_jpeg(decoded)),
                    save=False,
                )
                written.append(str(row.crop.name))
                row.save()
            locked.status = status
            locked.error = error
            locked.status_changed_at = timezone.now()
            locked.save(update_fields=["status", "error", "status_changed_at"])
            stale_crops = [str(f.crop.name) for f in old if f.crop]
            # Old crops go only once the new rows are committed.
            transaction.on_commit(lambda: storage_files_delete(stale_crops))
            audit_record(
                actor=None,
                action="search.faces.indexed",
                target=locked,
                outcome="success" if status == SourceImage.Status.DONE else status,
                details={"faces": len(faces), "replaced": len(old), "model": engine.model_name()},
            )
    except Exception:
        for name in written:
            default_storage.delete(name)
        raise


def _attempts_uncount(model: Any, ids: list[int]) -> None:
    """Give back the attempts counted for work that never reached the face model (storage unreachable)."""
    model.objects.filter(pk__in=ids, attempts__gt=0).update(attempts=F("attempts") - 1)


def storage_files_delete(names: list[str]) -> None:
    """Delete files from media storage (call after the rows that named them are committed)."""
    for name in names:
        default_storage.delete(name)


def quarantine_reason(attempts: int) -> str:
    """What the user is told about a photo that kept killing the face model."""
    return f"This photo could not be processed: it stopped the face model {attempts} times."


def _image_quarantine(image: SourceImage) -> None:
    """Give up on a source image that crashed the worker too often (caller holds its row lock)."""
    image.status = SourceImage.Status.FAILED
    image.error = quarantine_reason(image.attempts)
    image.status_changed_at = timezone.now()
    image.save(update_fields=["status", "error", "status_changed_at"])
    audit_record(
        actor=None,
        action="search.source_image.quarantined",
        target=image,
        outcome="failure",
        details={"attempts": image.attempts, "reason": image.error},
    )
