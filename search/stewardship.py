"""The search app's stewardship of photos, faces, crops and hits: every write that another app needs.

Subjects (erasure, objection, restriction and its lifting, rectification) and the retention and
jurisdiction sweeps change the face store only through these services, so that each guarantee is
checked in one place, inside the same transaction as the change and its audit event:

- a legal hold (``config.registry.active_holds``, answered by compliance): what it covers is never erased. Under an
  erasure it is restricted (never returned by a search) and marked with the request's reference;
  the retention sweep erases it once no hold covers it (Art 17(3)(e); ``search.retention``);
- a restriction: a face kept for an erasure, or tied to an excluded jurisdiction, is never made
  searchable again by lifting a restriction;
- suppression (objection): the suppression list (``search.models.Suppression``) is written here;
- excluded jurisdictions: a face rectified into one is erased (or, held, restricted until the hold ends).

``tests/invariants/test_boundary.py`` fails if code outside this app writes these models.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.services import audit_record
from config.registry import ActiveHolds, active_holds
from search.models import Face, SearchHit, SourceImage, Suppression
from search.services import storage_files_delete
from search.suppression import suppression_hash

# --- What a legal hold covers, and the deletion every path shares ------------------------------------


def held_images_q(holds: ActiveHolds) -> Q:
    """Photos a hold covers: its source, one of its faces, an organisation that received one of its
    faces in a result, or the erasure request it is waiting for."""
    return (
        Q(source_label__in=holds.source_labels)
        | Q(faces__id__in=holds.face_ids)
        | Q(faces__hits__search__organisation_id__in=holds.organisation_ids)
        | Q(erasure_reference__in=holds.request_references)
    )


def held_faces_q(holds: ActiveHolds) -> Q:
    """Faces a hold covers (the same rules as ``held_images_q``, seen from the face)."""
    return (
        Q(id__in=holds.face_ids)
        | Q(image__source_label__in=holds.source_labels)
        | Q(hits__search__organisation_id__in=holds.organisation_ids)
        | Q(image__erasure_reference__in=holds.request_references)
    )


def _held_image_ids(image_ids: Sequence[int], holds: ActiveHolds) -> set[int]:
    return set(
        SourceImage.objects.filter(pk__in=list(image_ids))
        .filter(held_images_q(holds))
        .values_list("pk", flat=True)
    )


def files_delete_on_commit(names: list[str]) -> int:
    """Delete files once the rows that named them are committed; returns how many."""
    names = [n for n in names if n]
    transaction.on_commit(lambda: storage_files_delete(names))
    return len(names)


def images_delete(rows: Sequence[SourceImage]) -> int:
    """Delete photos with their faces, crops and hits (the caller checked holds); files go on commit."""
    names = [str(r.file.name) for r in rows]
    names += [
        str(n) for n in Face.objects.filter(image__in=list(rows)).values_list("crop", flat=True)
    ]
    SourceImage.objects.filter(pk__in=[r.pk for r in rows]).delete()  # faces and hits cascade
    return files_delete_on_commit(names)


def faces_delete(rows: Sequence[Face]) -> int:
    """Delete faces with their hits (the caller checked holds); crops go on commit."""
    names = [str(r.crop.name) for r in rows]
    Face.objects.filter(pk__in=[r.pk for r in rows]).delete()
    return files_delete_on_commit(names)


def crops_delete(rows: Sequence[Face]) -> int:
    names = [str(r.crop.name) for r in rows]
    Face.objects.filter(pk__in=[r.pk for r in rows]).update(crop="")
    return files_delete_on_commit(names)


def excluded_q(codes: Sequence[str]) -> Q:
    """Rows tied to one of these jurisdictions (GB covers GB-SCT)."""
    q = Q(jurisdiction__in=list(codes))
    for code in codes:
        if "-" not in code:
            q |= Q(jurisdiction__startswith=f"{code}-")
    return q


def jurisdiction_excluded(code: str) -> bool:
    code = code.strip().upper()
    return any(
        code == c.upper() or code.startswith(f"{c.upper()}-")
        for c in settings.EXCLUDED_JURISDICTIONS
        if c
    )


# --- Erasure -------------------------------------------------------------------------------------------


@dataclass
class HeldPhoto:
    """A photo kept under a legal hold instead of erased (shown to the DPO, counted for the person)."""

    image_id: int
    source_label: str
    page_url: str
    faces: int


@dataclass
class ErasureOutcome:
    """What an erasure did: counts of what went, what a hold kept, and what to tell recipients."""

    counts: dict[str, int] = field(default_factory=dict)
    held: list[HeldPhoto] = field(default_factory=list)
    # organisation id -> (name, case references) of the erased faces' hits, for Art 19 notices
    recipients: dict[int, tuple[str, set[str]]] = field(default_factory=dict)
    page_urls: list[str] = field(default_factory=list)
    image_urls: list[str] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)
    verification: dict[str, int] = field(default_factory=dict)

    @property
    def verified_clean(self) -> bool:
        return not any(self.verification.values())


def storage_objects_left(*, names: list[str], sha256s: list[str]) -> list[str]:
    """List the storage itself (disk or S3 bucket) where the erased files lived: every object still there
    under a recorded name, or under any name of an erased image (crops of an earlier attempt, a copy
    saved under a suffixed name). One listing per folder, so a thousand crops cost a few requests."""
    folders = sorted({posixpath.dirname(n) for n in names if n})
    prefixes, recorded = tuple(sha256s), set(names)
    left = []
    for folder in folders:
        try:
            _dirs, listed = default_storage.listdir(folder)
        except FileNotFoundError:
            continue  # the folder went with its last file (local disk)
        left += [
            posixpath.join(folder, f)
            for f in listed
            if f.startswith(prefixes) or posixpath.join(folder, f) in recorded
        ]
    return sorted(set(left))


def images_held_for(*, face_ids: Sequence[int]) -> list[HeldPhoto]:
    """The photos holding these faces that an active legal hold covers (read-only: the DPO sees them
    before carrying out an erasure or objection)."""
    image_ids = set(Face.objects.filter(pk__in=list(face_ids)).values_list("image_id", flat=True))
    held = _held_image_ids(sorted(image_ids), active_holds())
    return _held_photos(held, face_ids)


def _held_photos(image_ids: set[int], face_ids: Sequence[int]) -> list[HeldPhoto]:
    wanted = set(face_ids)
    photos = []
    for image in (
        SourceImage.objects.filter(pk__in=sorted(image_ids))
        .prefetch_related("faces")
        .order_by("pk")
    ):
        faces = sum(1 for f in image.faces.all() if f.pk in wanted)
        photos.append(
            HeldPhoto(
                image_id=image.pk,
                source_label=image.source_label,
                page_url=image.page_url,
                faces=faces,
            )
        )
    return photos


@transaction.atomic
def faces_erase(
    *,
    face_ids: Sequence[int],
    request_reference: str,
    actor: Any = None,
    held_status: str = Face.Status.RESTRICTED,
) -> ErasureOutcome:
    """Erase every photo holding one of these faces, with all its faces, crops, embeddings, hits and files,
    then check that nothing remains.

    A photo an active legal hold covers is not erased: these faces are set to ``held_status``
    (restricted, or suppressed for an objection: never returned by a search) and the photo is marked
    with ``request_reference``; the retention sweep erases it when no hold covers it any more.
    Both are audited in this transaction.
    """
    face_ids = sorted(set(face_ids))
    holds = active_holds()
    image_ids = sorted(set(Face.objects.filter(pk__in=face_ids).values_list("image_id", flat=True)))
    # Lock the photos: a sweep or a second request on the same photos waits for this one.
    list(
        SourceImage.objects.select_for_update()
        .filter(pk__in=image_ids)
        .values_list("pk", flat=True)
    )
    held_ids = (
        set(image_ids)
        if request_reference in holds.request_references
        else _held_image_ids(image_ids, holds)
    )
    outcome = ErasureOutcome(held=_held_photos(held_ids, face_ids))
    if held_ids:
        kept = Face.objects.filter(pk__in=face_ids, image_id__in=held_ids)
        if held_status == Face.Status.SUPPRESSED:
            kept.exclude(status=held_status).update(status=held_status)
        else:
            kept.filter(status=Face.Status.ACTIVE).update(status=held_status)
        SourceImage.objects.filter(pk__in=held_ids, erasure_reference="").update(
            erasure_reference=request_reference[:20], erasure_requested_at=timezone.now()
        )
        audit_record(
            actor=actor,
            action="search.faces.held_for_erasure",
            target="search.sourceimage",
            outcome="success",
            details={
                "reference": request_reference,
                "images": sorted(held_ids),
                "faces": kept.count(),
                "status": held_status,
            },
        )
    erase_ids = [i for i in image_ids if i not in held_ids]
    images = list(SourceImage.objects.filter(pk__in=erase_ids))
    all_faces = list(Face.objects.filter(image_id__in=erase_ids))
    files = [str(i.file.name) for i in images] + [str(f.crop.name) for f in all_faces if f.crop]
    hits = SearchHit.objects.filter(face__in=all_faces).select_related("search__organisation")
    for hit in hits:
        org = hit.search.organisation
        outcome.recipients.setdefault(org.pk, (org.name, set()))[1].add(hit.search.case_reference)
    outcome.counts = {
        "images": len(images),
        "faces": len(all_faces),
        "vectors": len(all_faces),
        "crops": sum(1 for f in all_faces if f.crop),
        "search_hits": hits.count(),
        "files": len(files),
        "held_images": len(held_ids),
        "held_faces": sum(p.faces for p in outcome.held),
    }
    outcome.page_urls = [i.page_url for i in images if i.page_url]
    outcome.image_urls = [i.image_url for i in images if i.image_url]
    outcome.hashes = [i.sha256 for i in images]
    SourceImage.objects.filter(pk__in=erase_ids).delete()  # faces, hits cascade
    storage_files_delete(files)
    # Copies no row recorded (a crop of an earlier attempt, an object a failed deletion left) are the
    # same person's photo: the folders are listed and everything named after an erased photo goes too.
    strays = storage_objects_left(names=files, sha256s=outcome.hashes)
    storage_files_delete(strays)
    outcome.counts["files"] += len(strays)
    face_pks = [f.pk for f in all_faces]
    outcome.verification = {
        "faces_left": Face.objects.filter(pk__in=face_pks).count(),
        "images_left": SourceImage.objects.filter(pk__in=erase_ids).count(),
        "hits_left": SearchHit.objects.filter(face_id__in=face_pks).count(),
        "files_left": len(storage_objects_left(names=files, sha256s=outcome.hashes)),
        "vectors_left": Face.objects.filter(pk__in=face_pks, embedding__isnull=False).count(),
    }
    if images:
        audit_record(
            actor=actor,
            action="search.faces.erased",
            target="search.sourceimage",
            outcome="success" if outcome.verified_clean else "failure",
            details={"reference": request_reference, **outcome.counts, **outcome.verification},
        )
    return outcome


# --- Restriction -----------------------------------------------------------------------------------------


@transaction.atomic
def faces_restrict(*, face_ids: Sequence[int], request_reference: str, actor: Any = None) -> int:
    """Art 18: keep these faces but never return them in a search. Returns how many changed."""
    restricted = Face.objects.filter(pk__in=list(face_ids), status=Face.Status.ACTIVE).update(
        status=Face.Status.RESTRICTED
    )
    audit_record(
        actor=actor,
        action="search.faces.restricted",
        target="search.face",
        outcome="success",
        details={"reference": request_reference, "faces": restricted},
    )
    return restricted


@dataclass(frozen=True)
class LiftOutcome:
    lifted: int
    kept: int  # still restricted: waiting for an erasure under a hold, or tied to an excluded jurisdiction


@transaction.atomic
def faces_restrict_lift(
    *, face_ids: Sequence[int], request_reference: str, actor: Any = None, reason: str = ""
) -> LiftOutcome:
    """Make restricted faces searchable again, except those that must stay out of every search:
    faces whose photo waits for an erasure (a legal hold keeps it) or tied to an excluded jurisdiction."""
    restricted = Face.objects.select_for_update().filter(
        pk__in=list(face_ids), status=Face.Status.RESTRICTED
    )
    stay = ~Q(image__erasure_reference="")
    if settings.EXCLUDED_JURISDICTIONS:
        stay |= excluded_q([c.upper() for c in settings.EXCLUDED_JURISDICTIONS])
    ids = list(restricted.values_list("pk", flat=True))
    kept = list(Face.objects.filter(pk__in=ids).filter(stay).values_list("pk", flat=True))
    lifted = Face.objects.filter(pk__in=ids).exclude(pk__in=kept).update(status=Face.Status.ACTIVE)
    audit_record(
        actor=actor,
        action="search.faces.restriction_lifted",
        target="search.face",
        outcome="success",
        details={
            "reference": request_reference,
            "faces": lifted,
            "kept_restricted": len(kept),
            "reason": reason.strip()[:300],
        },
    )
    return LiftOutcome(lifted=lifted, kept=len(kept))


# --- Rectification ---------------------------------------------------------------------------------------


@dataclass
class JurisdictionOutcome:
    faces: int
    code: str
    erasure: ErasureOutcome | None = None


@transaction.atomic
def faces_set_jurisdiction(
    *, face_ids: Sequence[int], code: str, request_reference: str, actor: Any = None
) -> JurisdictionOutcome:
    """Art 16: correct the jurisdiction of these faces and their photos. Into an excluded jurisdiction,
    the photos are then erased as the jurisdiction sweep would (held ones restricted until the hold ends)."""
    code = code.strip().upper()
    faces = Face.objects.filter(pk__in=list(face_ids))
    image_ids = list(faces.values_list("image_id", flat=True))
    changed = faces.update(jurisdiction=code)
    SourceImage.objects.filter(pk__in=image_ids).update(jurisdiction=code)
    audit_record(
        actor=actor,
        action="search.faces.jurisdiction_set",
        target="search.face",
        outcome="success",
        details={"reference": request_reference, "faces": changed, "jurisdiction": code},
    )
    outcome = JurisdictionOutcome(faces=changed, code=code)
    if jurisdiction_excluded(code):
        outcome.erasure = faces_erase(
            face_ids=list(face_ids), request_reference=request_reference, actor=actor
        )
    return outcome


# --- Objection and the suppression list ----------------------------------------------------------------


def _suppression_entries(
    entries: Sequence[tuple[str, str, dict[str, Any]]], request_reference: str
) -> int:
    created = 0
    for kind, digest, extra in entries:
        created += Suppression.objects.get_or_create(
            kind=kind,
            value_sha256=digest,
            defaults={"request_reference": request_reference, **extra},
        )[1]
    return created


@transaction.atomic
def suppression_add(
    *,
    actor: object,
    request_reference: str,
    page_urls: Sequence[str] = (),
    image_urls: Sequence[str] = (),
    images: Sequence[bytes] = (),
) -> int:
    """Record an objector's pages and images (hashed) so they are never collected again."""
    entries: list[tuple[str, str, dict[str, Any]]] = [
        (Suppression.Kind.PAGE_URL, suppression_hash(u), {}) for u in page_urls
    ]
    entries += [(Suppression.Kind.IMAGE_URL, suppression_hash(u), {}) for u in image_urls]
    entries += [(Suppression.Kind.IMAGE, hashlib.sha256(b).hexdigest(), {}) for b in images]
    created = _suppression_entries(entries, request_reference)
    audit_record(
        actor=actor,
        action="subjects.suppression.added",
        target="search.suppression",
        outcome="success",
        details={"request": request_reference, "entries": created},
    )
    return created


@dataclass
class SuppressionOutcome:
    erasure: ErasureOutcome
    entries: int
    templates: int


@transaction.atomic
def faces_suppress(
    *,
    face_ids: Sequence[int],
    request_reference: str,
    actor: Any = None,
    page_urls: Sequence[str] = (),
    templates: Sequence[tuple[str, list[float]]] = (),
) -> SuppressionOutcome:
    """Art 21: erase these faces' photos (held ones suppressed until the hold ends) and put their pages,
    images and, with the person's consent, their face templates on the suppression list, so that nothing
    of theirs is collected again."""
    held_images = list(SourceImage.objects.filter(faces__id__in=list(face_ids)).distinct())
    erasure = faces_erase(
        face_ids=face_ids,
        request_reference=request_reference,
        actor=actor,
        held_status=Face.Status.SUPPRESSED,
    )
    kept = [i for i in held_images if i.pk in {p.image_id for p in erasure.held}]
    pages = erasure.page_urls + [i.page_url for i in kept if i.page_url] + list(page_urls)
    image_urls = erasure.image_urls + [i.image_url for i in kept if i.image_url]
    entries: list[tuple[str, str, dict[str, Any]]] = [
        (Suppression.Kind.PAGE_URL, suppression_hash(u), {}) for u in pages
    ]
    entries += [(Suppression.Kind.IMAGE_URL, suppression_hash(u), {}) for u in image_urls]
    entries += [(Suppression.Kind.IMAGE, h, {}) for h in erasure.hashes + [i.sha256 for i in kept]]
    for index, (model, template) in enumerate(templates):
        digest = hashlib.sha256(f"template:{request_reference}:{index}".encode()).hexdigest()
        entries.append((Suppression.Kind.TEMPLATE, digest, {"template": template, "model": model}))
    created = _suppression_entries(entries, request_reference)
    audit_record(
        actor=actor,
        action="search.suppression.added",
        target="search.suppression",
        outcome="success",
        details={"reference": request_reference, "entries": created, "templates": len(templates)},
    )
    return SuppressionOutcome(erasure=erasure, entries=created, templates=len(templates))


def source_image_perceptual_hash_set(*, image_id: int, value: str) -> int:
    """Record a stored photo's perceptual hash (provenance the crawler computes; no personal data beyond it)."""
    return SourceImage.objects.filter(pk=image_id).update(perceptual_hash=value)
