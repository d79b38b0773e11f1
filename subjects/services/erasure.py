"""Erasure, objection, rectification and complaints, with the erasure receipt."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.template.loader import render_to_string
from django.utils.translation import gettext_lazy

from accounts.models import Membership, Role
from audit.services import audit_record
from outbox.services import email_enqueue
from search import stewardship
from subjects.models import (
    ErasureReceipt,
    OrganisationNotice,
    SubjectRequest,
)

if TYPE_CHECKING:
    from search.stewardship import ErasureOutcome
from subjects.services.common import _confirmed_faces
from subjects.services.notify import _email


def _do_erasure(request: SubjectRequest, actor: Any = None, **_: Any) -> dict[str, Any]:
    receipt, _outcome = erase_confirmed(request=request, actor=actor)
    _email(request, "erased", gettext_lazy("Your photos have been erased"), counts=receipt.counts)
    return {"erased": receipt.counts, "verified_clean": receipt.verified_clean}


def erase_confirmed(
    *, request: SubjectRequest, actor: Any = None
) -> tuple[ErasureReceipt, ErasureOutcome]:
    """Erase every image holding a confirmed face (search.stewardship.faces_erase: what a legal hold covers
    is kept, restricted, and erased when the hold ends); tell the organisations that received the erased
    ones (Art 19); record the receipt. Returns the receipt and the stewardship's outcome."""

    face_ids = list(_confirmed_faces(request).values_list("pk", flat=True))
    outcome = stewardship.faces_erase(
        face_ids=face_ids, request_reference=request.reference, actor=actor
    )
    return _erasure_receipt(request, outcome), outcome


def _erasure_receipt(request: SubjectRequest, outcome: ErasureOutcome) -> ErasureReceipt:

    for org_id, (_name, cases) in outcome.recipients.items():
        OrganisationNotice.objects.create(
            organisation_id=org_id,
            message=(
                f"A person exercised their right to erasure ({request.reference}). Faces of theirs that appeared in your results "
                f"for case(s) {', '.join(sorted(cases))} have been erased. Delete any copies you kept (Art 17 and 19 GDPR)."
            ),
        )
        admins = list(
            Membership.objects.filter(organisation_id=org_id, role=Role.ORG_ADMIN).values_list(
                "user__email", flat=True
            )
        )
        if admins:
            message = render_to_string(
                "subjects/email/recipient_notice.txt",
                {"reference": request.reference, "cases": sorted(cases)},
            )
            email_enqueue(to=admins, subject="Erasure notice: results you received", body=message)
    receipt = ErasureReceipt.objects.create(
        request=request,
        counts=outcome.counts,
        organisations_notified=sorted(n for n, _ in outcome.recipients.values()),
        verified_clean=outcome.verified_clean,
        verification=outcome.verification,
    )
    audit_record(
        actor=None,
        action="subjects.erasure.verified",
        target=receipt,
        outcome="success" if receipt.verified_clean else "failure",
        details={
            "reference": request.reference,
            **outcome.verification,
            "held_images": outcome.counts.get("held_images", 0),
        },
    )
    return receipt


def storage_objects_left(*, names: list[str], sha256s: list[str]) -> list[str]:
    """Objects left in storage under erased names (search.stewardship.storage_objects_left)."""

    return stewardship.storage_objects_left(names=names, sha256s=sha256s)


def _do_objection(request: SubjectRequest, actor: Any = None, **_: Any) -> dict[str, Any]:

    # With consent, every confirmed face's template is kept (not only the selfie's): photos of the person
    # unlike the selfie are then refused too. Read them before the erasure deletes the faces.
    templates: list[tuple[str, list[float]]] = []
    if request.consent_keep_template:
        templates = [
            (f.model, list(f.embedding))
            for f in _confirmed_faces(request).filter(embedding__isnull=False)
        ]
        if request.template is not None:
            templates.insert(0, (request.template_model, list(request.template)))
    face_ids = list(_confirmed_faces(request).values_list("pk", flat=True))
    done = stewardship.faces_suppress(
        face_ids=face_ids,
        request_reference=request.reference,
        actor=actor,
        page_urls=list(request.urls),
        templates=templates,
    )
    receipt = _erasure_receipt(request, done.erasure)
    _email(
        request,
        "objection_done",
        gettext_lazy("We will not collect your photos again"),
        counts=receipt.counts,
    )
    return {
        "erased": receipt.counts,
        "suppression_entries": done.entries,
        "templates_kept": done.templates,
    }


def _do_rectification(
    request: SubjectRequest, *, rectified_jurisdiction: str = "", actor: Any = None, **_: Any
) -> dict[str, Any]:

    code = rectified_jurisdiction.strip().upper()
    if not code:
        raise ValidationError("Give the corrected jurisdiction (ISO 3166 code).")
    face_ids = list(_confirmed_faces(request).values_list("pk", flat=True))
    outcome = stewardship.faces_set_jurisdiction(
        face_ids=face_ids, code=code, request_reference=request.reference, actor=actor
    )
    _email(request, "rectified", gettext_lazy("Your data has been corrected"), code=code)
    done: dict[str, Any] = {"rectified_faces": outcome.faces, "jurisdiction": code}
    if (
        outcome.erasure is not None
    ):  # an excluded jurisdiction: erased as the jurisdiction sweep would
        done["erased"] = outcome.erasure.counts
    return done


def _do_complaint(request: SubjectRequest, **_: Any) -> dict[str, Any]:
    _email(request, "complaint_done", gettext_lazy("Our answer to your complaint"))
    return {
        "acknowledged_at": request.acknowledged_at.isoformat() if request.acknowledged_at else None
    }


def suppression_add(**kwargs: Any) -> int:
    """The suppression list is written by search (search.stewardship.suppression_add); kept for callers."""

    return stewardship.suppression_add(**kwargs)
