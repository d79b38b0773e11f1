"""Writes for search: indexing source images, customer searches, their results.

Every change that touches faces or searches writes an audit event in the same transaction.
Probe photos are deleted as soon as they are embedded. Every file goes through Django's storage API
(local disk or S3, config/storage.py): a worker on another machine reads the probe from there.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from accounts.selectors import membership_for, work_access_refusal
from compliance.services import audit_record
from config import ratelimit
from config.storage import StorageUnavailable
from config.tasks import enqueue
from search import engine, selectors
from search.calibration import calibration_for, index_size
from search.models import Face, LawfulBasis, ProbeFace, SearchHit, SearchRequest, SourceImage

logger = logging.getLogger(__name__)


def _excluded(jurisdiction: str) -> bool:
    code = (jurisdiction or "").upper()
    excluded = {c.upper() for c in settings.EXCLUDED_JURISDICTIONS}
    return bool(code) and (code in excluded or code.split("-")[0] in excluded)


# --- Indexing source images ---------------------------------------------------------


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
    from search.suppression import templates_kept

    return templates_kept(model=model)


def _template_match(analysis: engine.Analysis) -> bool:
    """Whether any face of the photo matches an objector's kept template."""
    from search.suppression import template_suppresses

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
    from search.suppression import suppression_match

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
            _test_fault_hook(data)
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


def _test_fault_hook(data: bytes) -> None:
    """Test hook: make the worker die on a marker photo, as a photo that crashes the face model would.

    Only ``config.test_settings`` reads ``FACE_TEST_CRASH_SHA256`` (SHA-256 digests, comma
    separated) from the environment; elsewhere the setting does not exist and this does nothing.
    ``FACE_TEST_HOLD_FILE`` makes the worker wait while that file exists (to kill it mid-task).
    """
    crash = getattr(settings, "FACE_TEST_CRASH_SHA256", "")
    hold = getattr(settings, "FACE_TEST_HOLD_FILE", "")
    if not crash and not hold:
        return
    import os
    import signal
    import time
    from pathlib import Path

    if crash and hashlib.sha256(data).hexdigest() in crash.split(","):
        os.kill(os.getpid(), signal.SIGKILL)
    while hold and Path(hold).exists():
        time.sleep(0.1)


# --- Customer searches ----------------------------------------------------------------


class SearchLimitExceeded(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _check_limits(*, organisation: Any) -> None:
    quota = organisation.monthly_search_quota or settings.SEARCH_DEFAULT_MONTHLY_QUOTA
    used = selectors.searches_this_month(organisation=organisation)
    if used >= quota:
        raise SearchLimitExceeded(
            f"Monthly search quota reached ({used} of {quota}); it resets on the 1st."
        )
    limit = settings.SEARCH_RATE_LIMIT_PER_MINUTE
    if not ratelimit.hit(key=f"search-rate:{organisation.pk}", limit=limit, window_seconds=60):
        raise SearchLimitExceeded(
            f"Too many searches: at most {limit} a minute per organisation. Try again shortly."
        )


def search_create(
    *,
    user: User,
    image_data: bytes,
    purpose: str,
    lawful_basis: str,
    case_reference: str,
    ip: str | None = None,
) -> SearchRequest:
    """Accept a search: validate the photo and the legal fields, store the probe, queue it.

    Raises ValidationError, engine.ImageRejected or SearchLimitExceeded; nothing is written then.
    """
    membership = membership_for(user=user)
    if membership is None:
        raise ValidationError("Only members of a customer organisation can search.")
    purpose, case_reference = purpose.strip(), case_reference.strip()
    errors = {}
    if not purpose:
        errors["purpose"] = "State the purpose of this search."
    if lawful_basis not in LawfulBasis.values:
        errors["lawful_basis"] = "Choose the lawful basis for this search."
    if not case_reference:
        errors["case_reference"] = "Give the case reference this search belongs to."
    if errors:
        raise ValidationError(errors)
    engine.decode_image(image_data)  # reject unusable photos before anything is stored
    _check_limits(organisation=membership.organisation)
    with transaction.atomic():
        search = SearchRequest(
            organisation=membership.organisation,
            user=user,
            purpose=purpose[:500],
            lawful_basis=lawful_basis,
            case_reference=case_reference[:100],
            model=engine.model_name(),
            expires_at=timezone.now() + timedelta(days=settings.PROBE_EMBEDDING_RETENTION_DAYS),
        )
        search.probe.save(
            f"{hashlib.sha256(image_data).hexdigest()}.img", ContentFile(image_data), save=False
        )
        try:
            search.save()
            audit_record(
                actor=user,
                action="search.search.created",
                target=search,
                outcome="success",
                ip=ip,
                details={
                    "purpose": search.purpose,
                    "lawful_basis": lawful_basis,
                    "case_reference": search.case_reference,
                },
            )
        except Exception:
            default_storage.delete(str(search.probe.name))
            raise
        transaction.on_commit(lambda: _search_enqueue(search.pk))
    return search


def _search_enqueue(search_id: int) -> None:
    """Queue the search; if the broker is unreachable the row stays pending and the sweeper queues it."""
    from search.tasks import search_process

    enqueue(
        search_process, search_id
    )  # unreachable broker: the row stays pending and the sweeper queues it


def _probe_delete(search: SearchRequest) -> None:
    """Forget the probe photo; the file goes once the transaction commits (a rollback keeps both)."""
    if search.probe:
        name = str(search.probe.name)
        search.probe = ""
        transaction.on_commit(lambda: storage_files_delete([name]))


def search_process_probe(*, search_id: int) -> SearchRequest | None:
    """Embed the probe (then delete it); search at once, or ask which face when there are several.

    The attempt is counted in its own committed step before the work: a worker that dies on
    this photo still leaves the count, and after ``FACE_TASK_MAX_ATTEMPTS`` the search is failed
    (quarantined) with a reason the analyst sees, and its probe photo deleted.
    """
    with transaction.atomic():
        search = SearchRequest.objects.select_for_update().filter(pk=search_id).first()
        if search is None or search.status != SearchRequest.Status.PENDING:
            return search  # done already, or chosen: a retry changes nothing
        # Queued before its organisation (or its analyst) was deactivated: never run, probe deleted.
        refusal = work_access_refusal(
            organisation_id=search.organisation_id, user_id=search.user_id
        )
        if refusal is not None:
            return _search_fail(search, refusal.message, action="search.search.refused")
        if search.attempts >= settings.FACE_TASK_MAX_ATTEMPTS:
            return _search_quarantine(search)
        search.attempts += 1
        search.status_changed_at = timezone.now()
        search.save(update_fields=["attempts", "status_changed_at"])
    try:
        return _search_embed_probe(search_id=search_id)
    except StorageUnavailable:
        # The probe is still in the object storage, its row unchanged: the attempt is given back and
        # the task retries (then the sweeper); an outage never quarantines a search.
        _attempts_uncount(SearchRequest, [search_id])
        logger.warning(
            "search %s: object storage unreachable; the search stays pending and is retried",
            search_id,
        )
        raise


def _search_embed_probe(*, search_id: int) -> SearchRequest | None:
    with transaction.atomic():
        search = SearchRequest.objects.select_for_update().filter(pk=search_id).first()
        if search is None or search.status != SearchRequest.Status.PENDING:
            return search  # a duplicate delivery finished it meanwhile
        if not search.probe:
            return _search_fail(search, "The photo is no longer available; start a new search.")
        try:
            with search.probe.open("rb") as fh:
                data = fh.read()
            _test_fault_hook(data)
            decoded = engine.decode_image(data)
        except engine.ImageRejected as exc:
            return _search_fail(search, exc.message)
        analysis = engine.analyse(decoded)
        _probe_delete(search)
        audit_record(
            actor=None,
            action="search.probe.embedded",
            target=search,
            outcome="success",
            details={
                "faces": len(analysis.faces),
                "rejected_faces": len(analysis.rejected),
                "probe_deleted": True,
            },
        )
        if not analysis.faces:
            reason = analysis.rejected[0][1] if analysis.rejected else "no face found in the photo"
            return _search_fail(search, f"No usable face: {reason}.")
        if len(analysis.faces) == 1:
            search.probe_embedding = analysis.faces[0].embedding.tolist()
            search.model = analysis.faces[0].model
            return _search_run(search)
        ordered = sorted(analysis.faces, key=lambda f: (f.box[0], f.box[1]))
        for index, face in enumerate(ordered):
            ProbeFace.objects.create(
                search=search,
                index=index,
                box=list(face.box),
                thumbnail=face.crop_jpeg(decoded, size=120),
                embedding=face.embedding.tolist(),
            )
        search.model = ordered[0].model
        _search_set_status(search, SearchRequest.Status.CHOOSE_FACE)
        return search


def _search_quarantine(search: SearchRequest) -> SearchRequest:
    """Fail a search whose photo stopped the face model too often (caller holds its row lock)."""
    return _search_fail(
        search, quarantine_reason(search.attempts), action="search.search.quarantined"
    )


@transaction.atomic
def search_choose_face(
    *, search: SearchRequest, index: int, user: User, ip: str | None = None
) -> SearchRequest:
    """The analyst picked one of several faces in the probe: search with that one."""
    search = SearchRequest.objects.select_for_update().get(pk=search.pk)
    if search.status != SearchRequest.Status.CHOOSE_FACE:
        raise ValidationError("This search is not waiting for a face to be chosen.")
    chosen = search.probe_faces.filter(index=index).first()
    if chosen is None:
        raise ValidationError("Choose one of the faces shown.")
    search.probe_embedding = list(chosen.embedding)
    search.probe_faces.all().delete()  # the other faces (and all thumbnails) go now
    audit_record(
        actor=user,
        action="search.probe.face_chosen",
        target=search,
        outcome="success",
        ip=ip,
        details={"index": index},
    )
    return _search_run(search)


def _search_set_status(search: SearchRequest, status: str, *, error: str = "") -> None:
    search.status = status
    search.error = error
    search.status_changed_at = timezone.now()
    if status in (SearchRequest.Status.DONE, SearchRequest.Status.FAILED):
        search.completed_at = search.status_changed_at
    search.save()


def _search_fail(
    search: SearchRequest, reason: str, *, action: str = "search.search.failed"
) -> SearchRequest:
    """Fail a search with a reason the analyst sees; its probe photo is deleted once this commits."""
    probe = str(search.probe.name) if search.probe else ""
    search.probe = ""
    _search_set_status(search, SearchRequest.Status.FAILED, error=reason[:300])
    audit_record(
        actor=None,
        action=action,
        target=search,
        outcome="failure",
        details={"reason": reason[:300], "attempts": search.attempts, "probe_deleted": bool(probe)},
    )
    if probe:
        transaction.on_commit(lambda: storage_files_delete([probe]))
    return search


def _search_run(search: SearchRequest) -> SearchRequest:
    calibration = calibration_for(search.model)
    # The strict point tightens with the index: about a 1 % chance per search of any stranger.
    size = index_size(search.model)
    threshold = calibration.threshold_for(size, point="strict")
    matches = selectors.face_match_list(
        embedding=list(search.probe_embedding) if search.probe_embedding is not None else [],
        model=search.model,
        limit=settings.SEARCH_TOP_K,
        max_distance=threshold,
    )
    search.match_threshold, search.index_size = threshold, size
    search.save(update_fields=["match_threshold", "index_size"])
    search.hits.all().delete()
    SearchHit.objects.bulk_create(
        [
            SearchHit(
                search=search,
                face_id=m.face_id,
                distance=m.distance,
                confidence=calibration.confidence(m.distance),
                rank=i + 1,
            )
            for i, m in enumerate(matches)
        ]
    )
    from search import monitoring  # the monitoring guard (docs/monitoring.md)

    if monitoring.search_hold_if_repeat(search=search):
        return search  # a repeat search: the results wait for the analyst's confirmation
    _search_set_status(search, SearchRequest.Status.DONE)
    audit_record(
        actor=None,
        action="search.search.completed",
        target=search,
        outcome="success",
        details={
            "hits": len(matches),
            "faces": [m.face_id for m in matches],
            "threshold": round(threshold, 5),
            "index_size": size,
        },
    )
    monitoring.search_monitoring_check(search=search)
    return search


def search_results_viewed(
    *, search: SearchRequest, user: User, ip: str | None = None, via: str = "web"
) -> None:
    """Record that someone looked at a search's results (who received which faces, and when)."""
    audit_record(
        actor=user,
        action="search.results.viewed",
        target=search,
        outcome="success",
        ip=ip,
        details={"via": via, "hits": selectors.search_hits_visible(search=search).count()},
    )


def searches_requeue_stuck(*, older_than: timedelta = timedelta(minutes=5)) -> dict[str, int]:
    """Re-enqueue work whose task was lost (Redis flushed, worker killed); quarantine it after enough tries.

    Only pending (and, for images, processing) rows are looked at: a failed or quarantined item
    is never brought back.
    """
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
    from search.suppression import template_suppresses

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
