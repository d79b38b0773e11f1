"""The refusal, the audit helpers and the face look-ups every part of the subject-request workflow shares."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from audit.services import AuditEntry, audit_record_many, subject_pseudonym
from config.errors import ApplicationError
from search.models import Face
from subjects.models import (
    Candidate,
    RequestType,
    SubjectRequest,
)


class RequestRefused(ApplicationError):
    """A data-subject request refused before anything was written (rate limit, abuse check, a bad link).
    ``reason`` and ``message`` are the same text, worded for the requester."""

    default_code = "request_refused"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _audit_entry(
    request: SubjectRequest, action: str, actor: Any = None, ip: str | None = None, **details: Any
) -> AuditEntry:
    return AuditEntry(
        actor=actor,
        action=f"subjects.request.{action}",
        target=request,
        outcome="success",
        ip=ip,
        details={
            "reference": request.reference,
            "type": request.type,
            "subject": subject_pseudonym(request.email),
            "status": request.status,
            **details,
        },
    )


def _audit(
    request: SubjectRequest, action: str, actor: Any = None, ip: str | None = None, **details: Any
) -> None:
    audit_record_many(entries=[_audit_entry(request, action, actor, ip, **details)])


def _located_face_ids(
    request: SubjectRequest, *, statuses: Sequence[str] | None = None
) -> list[int]:
    rows = request.candidates.filter(face__isnull=False)
    if statuses is not None:
        rows = rows.filter(status__in=list(statuses))
    return sorted(set(rows.values_list("face_ref", flat=True)))


# Requests that change the person's photos: every candidate must be decided before they are carried out.
DECIDE_FIRST = {RequestType.ERASURE, RequestType.OBJECTION, RequestType.RESTRICTION}


def _confirmed_faces(request: SubjectRequest) -> Any:

    return Face.objects.filter(
        pk__in=request.candidates.filter(status=Candidate.Status.CONFIRMED).values("face_ref")
    )
