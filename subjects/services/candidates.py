"""Locating the requester's faces (selfie analysis, matching bands) and the DPO's decisions on candidates."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from search import engine
from search.calibration import calibration_for, index_size
from search.models import Face
from search.selectors import face_match_list
from subjects.abuse import abuse_check
from subjects.models import (
    Candidate,
    SubjectRequest,
)
from subjects.selectors import restricted_face_match_list
from subjects.services.common import _audit
from subjects.services.restriction import _restrict_pending, _restriction_release


def selfie_analyse(*, selfie: bytes) -> Any:
    """Decode and analyse a selfie in memory. A photo without one usable face is refused with a reason the
    person can act on (ImageRejected), so that no request is filed on a selfie that can find nothing."""

    analysis = engine.analyse(engine.decode_image(selfie))
    if not analysis.faces:
        if analysis.rejected:
            raise engine.ImageRejected(
                "face_too_small",
                _(
                    "The face in this photo is too small for us to use. Send a closer photo where your face fills more "
                    "of the picture, or leave the photo out and give the addresses of pages showing you."
                ),
            )
        raise engine.ImageRejected(
            "no_face",
            _(
                "We found no face in this photo. Send a clear photo of your face, looking at the camera, or leave the "
                "photo out and give the addresses of pages showing you."
            ),
        )
    return analysis


def _match_bands(model: str) -> tuple[float, float]:
    """The candidate thresholds: strict (likely the person) and loose (the DPO's review band, toward recall).

    Both are operating points of the calibration for the live index size (search/calibration.json);
    SUBJECT_STRICT_FACTOR / SUBJECT_BORDERLINE_FACTOR (default 1) scale them.
    """

    calibration, size = calibration_for(model), index_size(model)
    strict = calibration.search_threshold(size, point="strict") * settings.SUBJECT_STRICT_FACTOR
    loose = (
        calibration.search_threshold(size, point="candidate") * settings.SUBJECT_BORDERLINE_FACTOR
    )
    return strict, max(strict, loose)


def _locate(
    request: SubjectRequest,
    analysis: Any,
    *,
    urls: Sequence[str] | None = None,
    found_by: str = "selfie",
) -> int:
    """Candidates from the selfie's main face (strict and borderline bands) and from the URLs given."""

    count = 0
    if analysis is not None and analysis.faces:
        face = max(analysis.faces, key=lambda f: f.box[2] * f.box[3])
        request.selfie_faces = len(analysis.faces)
        strict, loose = _match_bands(face.model)
        matches = (
            face_match_list(
                embedding=face.embedding.tolist(),
                model=face.model,
                limit=settings.SUBJECT_LOCATE_LIMIT,
                max_distance=loose,
            )
            + restricted_face_match_list(
                embedding=face.embedding.tolist(),
                model=face.model,
                limit=settings.SUBJECT_LOCATE_LIMIT,
                max_distance=loose,
            )
        )  # the person's photos already hidden (an earlier restriction, a pending request) are theirs to act on too
        for match in matches:
            count += Candidate.objects.get_or_create(
                request=request,
                face_ref=match.face_id,
                defaults={
                    "face_id": match.face_id,
                    "distance": match.distance,
                    "borderline": match.distance > strict,
                    "found_by": found_by,
                },
            )[1]
        if (
            request.consent_keep_template and request.template is None
        ):  # the intake selfie's; answers add candidates
            request.template, request.template_model = face.embedding.tolist(), face.model
        request.save(update_fields=["selfie_faces", "template", "template_model"])
    urls = request.urls if urls is None else urls
    if urls:
        faces = Face.objects.filter(image__page_url__in=urls) | Face.objects.filter(
            image__image_url__in=urls
        )
        for face in faces.distinct():
            # A photo at that URL may show several people: each face is a borderline candidate for the DPO.
            count += Candidate.objects.get_or_create(
                request=request,
                face_ref=face.pk,
                defaults={
                    "face": face,
                    "borderline": True,
                    "found_by": "url" if found_by == "selfie" else found_by,
                },
            )[1]
    if count:
        _audit(request, "candidates_found", candidates=count, found_by=found_by)
    abuse_check(
        request=request
    )  # several addresses for one face, several faces for one address, address variants
    return count


def candidates_expand(*, request: SubjectRequest) -> int:
    """Propose further candidates near every confirmed face not looked at yet (same bands as the selfie).

    Called whenever the DPO confirms faces, so the search repeats as they confirm what it found, until a
    round finds nothing new, within SUBJECT_EXPANSION_MAX_ROUNDS rounds and SUBJECT_EXPANSION_MAX_CANDIDATES
    candidates per request. Only confirmed faces seed a round: a proposal never proposes on its own.
    """

    request = SubjectRequest.objects.select_for_update().get(pk=request.pk)
    seeds = list(
        request.candidates.filter(
            status=Candidate.Status.CONFIRMED, expanded=False, face__isnull=False
        )
    )
    if not seeds or request.expansion_rounds >= settings.SUBJECT_EXPANSION_MAX_ROUNDS:
        return 0
    room = settings.SUBJECT_EXPANSION_MAX_CANDIDATES - request.candidates.count()
    faces = {
        f.pk: f
        for f in Face.objects.filter(pk__in=[c.face_ref for c in seeds], embedding__isnull=False)
    }
    added = 0
    for seed in seeds:
        face = faces.get(seed.face_ref)
        if face is not None and room > 0:
            strict, loose = _match_bands(face.model)
            matches = face_match_list(
                embedding=list(face.embedding),
                model=face.model,
                limit=settings.SUBJECT_LOCATE_LIMIT,
                max_distance=loose,
            ) + restricted_face_match_list(
                embedding=list(face.embedding),
                model=face.model,
                limit=settings.SUBJECT_LOCATE_LIMIT,
                max_distance=loose,
            )
            for match in matches:
                if room <= 0:
                    break
                _, new = Candidate.objects.get_or_create(
                    request=request,
                    face_ref=match.face_id,
                    defaults={
                        "face_id": match.face_id,
                        "distance": match.distance,
                        "borderline": match.distance > strict,
                        "found_by": "expansion",
                        "near_face_ref": seed.face_ref,
                    },
                )
                added += new
                room -= new
        seed.expanded = True
        seed.save(update_fields=["expanded"])
    if added:
        request.expansion_rounds += 1
        request.save(update_fields=["expansion_rounds"])
        _audit(
            request,
            "candidates_expanded",
            candidates=added,
            seeds=len(seeds),
            round=request.expansion_rounds,
        )
        if request.verified_at is not None and request.is_open:
            _restrict_pending(request)
    return added


@transaction.atomic
def candidate_decide(
    *, candidate: Candidate, confirm: bool, actor: Any, ip: str | None = None
) -> Candidate:
    """Confirm or reject one candidate; a confirmation looks for further candidates near that face."""
    candidate = Candidate.objects.select_for_update().select_related("request").get(pk=candidate.pk)
    if not candidate.request.is_open:
        raise ValidationError("The request is closed.")
    candidate.status = Candidate.Status.CONFIRMED if confirm else Candidate.Status.REJECTED
    candidate.save(update_fields=["status"])
    _audit(
        candidate.request,
        "candidate_confirmed" if confirm else "candidate_rejected",
        actor=actor,
        ip=ip,
        face=candidate.face_ref,
    )
    if confirm:
        candidates_expand(request=candidate.request)
    else:
        _restriction_release(
            candidate.request,
            face_ids=[candidate.face_ref],
            actor=actor,
            reason="candidate rejected",
        )
    return candidate


@transaction.atomic
def candidates_decide(
    *,
    request: SubjectRequest,
    candidate_ids: Sequence[int],
    confirm: bool,
    actor: Any,
    ip: str | None = None,
) -> int:
    """ "Confirm all shown" / "reject all shown": the proposals the DPO saw on the page, in one step."""
    request = SubjectRequest.objects.select_for_update().get(pk=request.pk)
    if not request.is_open:
        raise ValidationError("The request is closed.")
    shown = request.candidates.select_for_update().filter(
        pk__in=list(candidate_ids), face__isnull=False
    )
    rows = list(shown.filter(status=Candidate.Status.PROPOSED))
    if not rows:
        raise ValidationError("No proposed candidate was shown; nothing changed.")
    status = Candidate.Status.CONFIRMED if confirm else Candidate.Status.REJECTED
    Candidate.objects.filter(pk__in=[c.pk for c in rows]).update(status=status)
    action = "candidate_confirmed" if confirm else "candidate_rejected"
    _audit(request, action, actor=actor, ip=ip, faces=sorted(c.face_ref for c in rows), bulk=True)
    if confirm:
        candidates_expand(request=request)
    else:
        _restriction_release(
            request, face_ids=[c.face_ref for c in rows], actor=actor, reason="candidates rejected"
        )
    return len(rows)
