"""Reads for search: face matching (the only raw pgvector SQL), access checks, usage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from accounts.models import Organisation, User
from accounts.selectors import membership_for
from search.engine import MODEL_DIMENSIONS
from search.models import Face, SearchHit, SearchRequest


@dataclass(frozen=True)
class FaceMatch:
    face_id: int
    distance: float


def face_match_list(
    *, embedding: Sequence[float], model: str, limit: int, max_distance: float | None = None
) -> list[FaceMatch]:
    """Nearest active, unexpired faces of ``model`` outside excluded jurisdictions.

    The filters sit inside the index scan: pgvector's iterative scan keeps walking the HNSW
    graph until ``limit`` rows pass them, so top-k still returns k when k qualify.
    """
    if model not in MODEL_DIMENSIONS:
        raise ValueError(f"unknown model {model!r}")
    dims = MODEL_DIMENSIONS[model]
    vector = "[" + ",".join(f"{float(v):.7g}" for v in embedding) + "]"
    # The model name and dimension come from the fixed table above, never from input, and are
    # literals so that the planner matches the partial index of that model.
    sql = f"""
        SELECT f.id, (f.embedding::vector({dims})) <=> %s::vector({dims}) AS distance
        FROM search_face f
        WHERE f.model = '{model}'
          AND f.status = 'active'
          AND (f.expires_at IS NULL OR f.expires_at > %s)
          AND NOT (f.jurisdiction = ANY(%s::text[]))
        ORDER BY (f.embedding::vector({dims})) <=> %s::vector({dims})
        LIMIT %s
    """  # noqa: S608
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL hnsw.iterative_scan = strict_order")
        cursor.execute("SET LOCAL hnsw.ef_search = %s", [max(settings.SEARCH_EF_SEARCH, limit)])
        cursor.execute(
            sql, [vector, timezone.now(), list(settings.EXCLUDED_JURISDICTIONS), vector, limit]
        )
        rows = cursor.fetchall()
    matches = [FaceMatch(face_id=r[0], distance=float(r[1])) for r in rows]
    if max_distance is not None:
        matches = [m for m in matches if m.distance <= max_distance]
    return matches


def access_search_by_id(*, user: User, search_id: int) -> SearchRequest:
    """A search of the user's own organisation; 404 for anyone else."""
    membership = membership_for(user=user)
    if membership is None:
        raise Http404
    search = (
        SearchRequest.objects.select_related("organisation", "user").filter(pk=search_id).first()
    )
    if search is None:
        raise Http404
    if search.organisation_id != membership.organisation_id:
        raise Http404
    return search


def search_list(*, user: User) -> QuerySet[SearchRequest]:
    membership = membership_for(user=user)
    if membership is None:
        raise Http404
    return SearchRequest.objects.filter(organisation=membership.organisation_id).select_related(
        "user"
    )


def excluded_jurisdictions_q(field: str = "jurisdiction") -> Q:
    """Rows whose jurisdiction ``field`` is excluded (a listed country covers its subdivisions: US covers US-IL)."""
    q = Q(pk__in=[])
    for code in {c.strip().upper() for c in settings.EXCLUDED_JURISDICTIONS if c.strip()}:
        q |= Q(**{f"{field}__iexact": code}) | Q(**{f"{field}__istartswith": f"{code}-"})
    return q


def search_hits_visible(*, search: SearchRequest) -> QuerySet[SearchHit]:
    """The hits of a search that may be shown now: the one owner of what a stored result shows.

    A result is read again long after the search ran; by then a face may be restricted (Art 18),
    suppressed (Art 21), expired, or in a jurisdiction now excluded. Such a hit vanishes from every
    view of the result (page, API, crop download), as if it had never been found. Nothing is shown
    before the search is done (a held repeat search shows nothing until it is confirmed).
    """
    if search.status != SearchRequest.Status.DONE:
        return SearchHit.objects.none()
    return (
        SearchHit.objects.filter(search=search, face__status=Face.Status.ACTIVE)
        .filter(Q(face__expires_at__isnull=True) | Q(face__expires_at__gt=timezone.now()))
        .exclude(excluded_jurisdictions_q("face__jurisdiction"))
        .select_related("face", "face__image")
        .order_by("rank")
    )


def search_hit_list(*, search: SearchRequest) -> QuerySet[SearchHit]:
    """The hits shown for a search (``search_hits_visible``)."""
    return search_hits_visible(search=search)


def searches_this_month(*, organisation: Organisation) -> int:
    start = timezone.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return SearchRequest.objects.filter(organisation=organisation, created_at__gte=start).count()


def search_ids_of_same_person(
    *,
    face_id: int,
    model: str,
    max_distance: float,
    since: datetime,
    statuses: Sequence[str],
    organisation_id: int | None = None,
) -> list[int]:
    """Searches made since ``since`` whose top match is the person of face ``face_id``, oldest first.

    "The same person" is a top match within ``max_distance`` of that face (the face itself at 0).
    Only searches in ``statuses`` count; ``organisation_id`` narrows to one organisation.
    """
    if model not in MODEL_DIMENSIONS:
        raise ValueError(f"unknown model {model!r}")
    dims = MODEL_DIMENSIONS[model]
    org_filter = "AND s.organisation_id = %s" if organisation_id is not None else ""
    # Model and dimension come from the fixed table, never from input (as in face_match_list).
    sql = f"""
        SELECT s.id
        FROM search_searchrequest s
        JOIN search_searchhit h ON h.search_id = s.id AND h.rank = 1
        JOIN search_face f ON f.id = h.face_id
        CROSS JOIN (SELECT embedding::vector({dims}) AS e FROM search_face WHERE id = %s AND model = '{model}') AS top
        WHERE f.model = '{model}'
          AND s.status = ANY(%s::text[])
          AND s.created_at >= %s
          AND (f.embedding::vector({dims})) <=> top.e <= %s
          {org_filter}
        ORDER BY s.created_at, s.id
    """  # noqa: S608
    params: list[Any] = [face_id, list(statuses), since, max_distance]
    if organisation_id is not None:
        params.append(organisation_id)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def search_operating_point(*, search: SearchRequest) -> dict[str, Any] | None:
    """What a finished search was searched at, for the analyst: the index size then (a historical count,
    with the moment it was taken: faces erased or restricted since are not subtracted), the largest distance
    shown as a match, and the share of true matches the model finds at that distance (cross-validated
    by person; ``tar_exact`` False when the distance is under the measured curve, the share then being
    at most ``true_match_rate``). None for searches run before these were recorded."""
    from search.calibration import calibration_for

    if search.match_threshold is None or search.index_size is None:
        return None
    try:
        tar = calibration_for(search.model).tar_at(search.match_threshold)
    except LookupError:
        tar = None
    return {
        "index_size": search.index_size,
        "searched_at": search.completed_at or search.status_changed_at,
        "max_distance": round(search.match_threshold, 5),
        "true_match_rate": round(tar[0], 3) if tar else None,
        "tar_exact": tar[1] if tar else None,
    }


def confidence_meaning(*, model: str) -> str:
    """What the confidence shown beside a match means, as the model's calibration states it."""
    from search.calibration import calibration_for

    try:
        return calibration_for(model).confidence_meaning
    except LookupError:
        return "an estimated probability that the two faces are the same person"
