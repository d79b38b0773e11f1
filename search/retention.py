"""Retention sweeps for the face store (registered from SearchConfig.ready(), one data class each; run by compliance.retention).

Each sweep works in chunks, each chunk in its own transaction with its audit event; files are
deleted only after the chunk's rows are committed. Rows under a legal hold are skipped and
counted. Running a sweep twice deletes nothing the second time.

The photo, crop and probe sweeps then list the storage itself (disk or S3 bucket) and delete
objects that no row names any more: a deletion the store missed because it was unreachable
when the rows committed is caught up the next day.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from audit.services import audit_record
from config.data_classes import DataClass
from config.registry import (
    ActiveHolds,
    SweepOutcome,
    jurisdiction_purgers,
    retention_sweeper_register,
)
from search.models import Face, SearchHit, SearchRequest, SourceImage
from search.services import storage_files_delete
from search.stewardship import (
    crops_delete,
    excluded_q,
    faces_delete,
    files_delete_on_commit,
    held_faces_q,
    held_images_q,
    images_delete,
)

# An object younger than this may belong to a row whose transaction has not committed yet.
ORPHAN_GRACE = timedelta(hours=1)


def _walk(folder: str) -> Iterator[str]:
    """Every object under ``folder``, listed by the storage itself (one request per folder on S3)."""
    try:
        folders, files = default_storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in files:
        yield posixpath.join(folder, name)
    for sub in folders:
        yield from _walk(posixpath.join(folder, sub))


def orphan_files_delete(*, folder: str, model: Any, field: str, batch: int = 1000) -> int:
    """Delete objects under ``folder`` that no ``model.field`` names and that are older than ORPHAN_GRACE."""
    cutoff = timezone.now() - ORPHAN_GRACE
    deleted = 0
    names = _walk(folder)
    while chunk := [name for _, name in zip(range(batch), names, strict=False)]:
        known = set(model.objects.filter(**{f"{field}__in": chunk}).values_list(field, flat=True))
        orphans = [
            n for n in chunk if n not in known and default_storage.get_modified_time(n) < cutoff
        ]
        if not orphans:
            continue
        storage_files_delete(orphans)
        audit_record(
            actor=None,
            action="search.retention.orphan_files_deleted",
            target=model._meta.label_lower,
            outcome="success",
            details={"folder": folder, "count": len(orphans)},
        )
        deleted += len(orphans)
    return deleted


def _chunked(
    queryset: QuerySet[Any],
    *,
    held: Q,
    chunk_size: int,
    when: str,
    apply: Callable[[list[Any]], int],
    action: str,
) -> SweepOutcome:
    outcome = SweepOutcome()
    outcome.held = queryset.filter(held).distinct().count()
    # exclude() on related rows becomes a NOT EXISTS subquery: no duplicates, so rows can be locked.
    candidates = queryset.exclude(held).order_by("pk")
    while True:
        with transaction.atomic():
            rows = list(candidates.select_for_update(skip_locked=True, of=("self",))[:chunk_size])
            if not rows:
                return outcome
            files = apply(rows)
            ids = [r.pk for r in rows]
            audit_record(
                actor=None,
                action=f"search.retention.{action}",
                target=rows[0]._meta.label_lower,
                outcome="success",
                details={"count": len(ids), "first_id": ids[0], "last_id": ids[-1], "files": files},
            )
            outcome.add(ids, [getattr(r, when) for r in rows], files)


def sweep_held_erasures(*, holds: ActiveHolds, chunk_size: int) -> SweepOutcome:
    """Photos an erasure request covered while a legal hold kept them (Art 17(3)(e)): erased once no hold
    covers them any more, with their faces, crops, hits and files, audited per chunk."""
    return _chunked(
        SourceImage.objects.exclude(erasure_reference=""),
        held=held_images_q(holds),
        chunk_size=chunk_size,
        when="erasure_requested_at",
        apply=images_delete,
        action="held_erasures_completed",
    )


def sweep_source_images(
    *, cutoff: datetime, action: str, holds: ActiveHolds, chunk_size: int
) -> SweepOutcome:
    """Images not seen at their source since the cutoff go, with their faces, crops and hits; so do the
    photos of an erasure that a legal hold delayed, once the hold has ended."""
    delayed = sweep_held_erasures(holds=holds, chunk_size=chunk_size)
    outcome = _chunked(
        SourceImage.objects.filter(last_seen__lt=cutoff),
        held=held_images_q(holds),
        chunk_size=chunk_size,
        when="last_seen",
        apply=images_delete,
        action="source_images_deleted",
    )
    outcome.add(
        delayed.ids, [t for t in (delayed.oldest, delayed.newest) if t], delayed.files_deleted
    )
    outcome.held += delayed.held
    outcome.files_deleted += orphan_files_delete(folder="sources", model=SourceImage, field="file")
    return outcome


def sweep_faces(
    *, cutoff: datetime, action: str, holds: ActiveHolds, chunk_size: int
) -> SweepOutcome:
    """Faces older than the period, or past their own expiry (their photo left its source)."""
    expired = Face.objects.filter(Q(created_at__lt=cutoff) | Q(expires_at__lte=timezone.now()))
    return _chunked(
        expired,
        held=held_faces_q(holds),
        chunk_size=chunk_size,
        when="created_at",
        apply=faces_delete,
        action="faces_deleted",
    )


def sweep_face_crops(
    *, cutoff: datetime, action: str, holds: ActiveHolds, chunk_size: int
) -> SweepOutcome:
    outcome = _chunked(
        Face.objects.filter(created_at__lt=cutoff).exclude(crop=""),
        held=held_faces_q(holds),
        chunk_size=chunk_size,
        when="created_at",
        apply=crops_delete,
        action="face_crops_deleted",
    )
    outcome.files_deleted += orphan_files_delete(folder="crops", model=Face, field="crop")
    return outcome


def _held_searches(holds: ActiveHolds) -> Q:
    return Q(organisation_id__in=holds.organisation_ids)


def _delete_probes(rows: list[SearchRequest]) -> int:
    names = [str(r.probe.name) for r in rows]
    SearchRequest.objects.filter(pk__in=[r.pk for r in rows]).update(probe="")
    return files_delete_on_commit(names)


def sweep_probe_images(
    *, cutoff: datetime, action: str, holds: ActiveHolds, chunk_size: int
) -> SweepOutcome:
    """Probe photos are deleted when embedded; this catches any a failure left behind (rows and objects)."""
    outcome = _chunked(
        SearchRequest.objects.filter(created_at__lt=cutoff).exclude(probe=""),
        held=_held_searches(holds),
        chunk_size=chunk_size,
        when="created_at",
        apply=_delete_probes,
        action="probe_images_deleted",
    )
    outcome.files_deleted += orphan_files_delete(
        folder="probes", model=SearchRequest, field="probe"
    )
    return outcome


def _clear_probe_embeddings(rows: list[SearchRequest]) -> int:
    SearchRequest.objects.filter(pk__in=[r.pk for r in rows]).update(probe_embedding=None)
    return 0


def sweep_probe_embeddings(
    *, cutoff: datetime, action: str, holds: ActiveHolds, chunk_size: int
) -> SweepOutcome:
    """The probe embedding goes; the search record (who, why, when) stays."""
    return _chunked(
        SearchRequest.objects.filter(created_at__lt=cutoff, probe_embedding__isnull=False),
        held=_held_searches(holds),
        chunk_size=chunk_size,
        when="created_at",
        apply=_clear_probe_embeddings,
        action="probe_embeddings_removed",
    )


def _delete_hits(rows: list[SearchHit]) -> int:
    SearchHit.objects.filter(pk__in=[r.pk for r in rows]).delete()
    return 0


def sweep_search_results(
    *, cutoff: datetime, action: str, holds: ActiveHolds, chunk_size: int
) -> SweepOutcome:
    return _chunked(
        SearchHit.objects.filter(created_at__lt=cutoff),
        held=Q(search__organisation_id__in=holds.organisation_ids),
        chunk_size=chunk_size,
        when="created_at",
        apply=_delete_hits,
        action="search_results_deleted",
    )


def purge_jurisdictions(*, codes: list[str], holds: ActiveHolds, chunk_size: int) -> SweepOutcome:
    """Delete every image and face tied to an excluded jurisdiction (faces first, then images)."""
    if not codes:
        return SweepOutcome()
    faces = _chunked(
        Face.objects.filter(excluded_q(codes)),
        held=held_faces_q(holds),
        chunk_size=chunk_size,
        when="created_at",
        apply=faces_delete,
        action="excluded_jurisdiction_faces_deleted",
    )
    images = _chunked(
        SourceImage.objects.filter(excluded_q(codes)),
        held=held_images_q(holds),
        chunk_size=chunk_size,
        when="first_seen",
        apply=images_delete,
        action="excluded_jurisdiction_images_deleted",
    )
    faces.add(images.ids, [t for t in (images.oldest, images.newest) if t], images.files_deleted)
    faces.held += images.held
    return faces


_BACKLOG: dict[str, Callable[[datetime], QuerySet[Any]]] = {
    DataClass.SOURCE_IMAGES: lambda c: SourceImage.objects.filter(
        Q(last_seen__lt=c) | ~Q(erasure_reference="")
    ),
    DataClass.FACES: lambda c: Face.objects.filter(
        Q(created_at__lt=c) | Q(expires_at__lte=timezone.now())
    ),
    DataClass.FACE_CROPS: lambda c: Face.objects.filter(created_at__lt=c).exclude(crop=""),
    DataClass.PROBE_IMAGES: lambda c: SearchRequest.objects.filter(created_at__lt=c).exclude(
        probe=""
    ),
    DataClass.PROBE_EMBEDDINGS: lambda c: SearchRequest.objects.filter(
        created_at__lt=c, probe_embedding__isnull=False
    ),
    DataClass.SEARCH_RESULTS: lambda c: SearchHit.objects.filter(created_at__lt=c),
}


def backlog_count(*, data_class: str, cutoff: datetime) -> int:
    return _BACKLOG[data_class](cutoff).count()


def sweepers_register() -> None:
    """Called from SearchConfig.ready(): this app sweeps the face store's data classes."""
    for data_class, sweep in (
        (DataClass.SOURCE_IMAGES, sweep_source_images),
        (DataClass.FACES, sweep_faces),
        (DataClass.FACE_CROPS, sweep_face_crops),
        (DataClass.PROBE_IMAGES, sweep_probe_images),
        (DataClass.PROBE_EMBEDDINGS, sweep_probe_embeddings),
        (DataClass.SEARCH_RESULTS, sweep_search_results),
    ):
        retention_sweeper_register(data_class, sweep=sweep, backlog=backlog_count)
    jurisdiction_purgers.register("images", purge_jurisdictions)
