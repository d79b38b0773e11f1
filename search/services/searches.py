"""Customer searches: created within the organisation's limits, the probe embedded and searched by
a worker, the results viewed; every step audited.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.selectors import membership_for, work_access_refusal
from audit.services import audit_record
from config import ratelimit
from config.errors import ApplicationError
from config.storage import StorageUnavailable
from config.tasks import enqueue
from search import engine, monitoring, selectors
from search.calibration import calibration_for, index_size
from search.models import LawfulBasis, ProbeFace, SearchHit, SearchRequest
from search.services.ingest import (
    _attempts_uncount,
    quarantine_reason,
    storage_files_delete,
)

logger = logging.getLogger(__name__)


class SearchLimitExceeded(ApplicationError):
    """The organisation's monthly quota or rate limit is used up (HTTP 429). ``reason`` is ``message``."""

    default_code = "limit_exceeded"
    default_status = 429


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
    # Lazy: search.tasks imports search.services (a circle at import time).
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
    threshold = calibration.search_threshold(size, point="strict")
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
