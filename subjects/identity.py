"""Proof that a requester is the person (issue 22): the one owner of "may the second tier be released?".

A verified email releases the first tier: what exposes nobody (purposes, categories, retention, rights,
sources in general, how to complain, and whether we hold matching photos, as a band). The second tier —
the photos, page and image addresses, first/last seen, the organisations that saw the person — and the
irreversible actions (erasure, objection, restriction carried out) need an accepted ``IdentityProof``:
a live capture the DPO reviewed, or another proportionate method the DPO records. Never a document by
default, and a person without a camera is never refused.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from audit.services import audit_record
from subjects.models import IdentityProof, ProofMethod, SubjectRequest
from subjects.selectors import dpo_required


def identity_proven(*, request: SubjectRequest) -> bool:
    """Whether the DPO has accepted a proof that the requester is the person (the latest decision counts)."""
    latest = request.identity_proofs.order_by("-decided_at", "-pk").first()
    return bool(latest and latest.accepted)


def identity_proof_latest(*, request: SubjectRequest) -> IdentityProof | None:
    return request.identity_proofs.order_by("-decided_at", "-pk").first()


@transaction.atomic
def identity_proof_record(
    *,
    request: SubjectRequest,
    method: str,
    accepted: bool,
    actor: Any,
    note: str = "",
    evidence: dict[str, Any] | None = None,
    ip: str | None = None,
) -> IdentityProof:
    """Record the DPO's decision on the requester's identity, audited in the same transaction.

    ``evidence`` holds numbers and flags only (the live checks' report), never images or embeddings."""
    if method not in ProofMethod.values:
        raise ValidationError(f"Unknown verification method: {method!r}.")
    dpo_required(user=actor)  # only the DPO records how a requester was verified
    proof = IdentityProof.objects.create(
        request=request,
        method=method,
        accepted=accepted,
        note=note.strip()[:2000],
        evidence=evidence or {},
        decided_by=actor,
    )
    audit_record(
        actor=actor,
        action="subjects.identity.accepted" if accepted else "subjects.identity.refused",
        target=request,
        outcome="success" if accepted else "denied",
        ip=ip,
        details={"reference": request.reference, "method": method},
    )
    return proof
