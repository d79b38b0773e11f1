"""Retention: default policies, legal holds, and the sweep engine.

Each data class is swept by a function of the app that owns the data (its services), looked up
here by dotted path; compliance decides *what* expired and writes the receipt, the owning app
decides *how* its rows and files go.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Organisation
from compliance.models import (
    AuditEvent,
    DataClass,
    LegalHold,
    RetentionAction,
    RetentionPolicy,
    SweepReceipt,
)
from compliance.services import audit_events_redact, audit_record
from config.registry import (
    ActiveHolds,
    SweepOutcome,
    holds_providers,
    jurisdiction_purgers,
    policy_providers,
    retention_sweeper_register,
    retention_sweepers,
)
from crawling.models import Source
from search.models import Face, SourceImage
from subjects.models import SubjectRequest

DEFAULT_POLICIES: list[tuple[str, int, str, str]] = [
    (
        "source_images",
        365,
        "delete",
        "A photo stays findable for a year after it was last seen at its source; after that the "
        "source no longer shows it and keeping it serves no search purpose.",
    ),
    (
        "faces",
        365,
        "delete",
        "Faces and their embeddings follow their photo: one year, then deleted (storage limitation, "
        "Art 5(1)(e)).",
    ),
    (
        "face_crops",
        365,
        "delete",
        "Crops are shown only beside a face's results, so they live exactly as long as the face.",
    ),
    (
        "probe_images",
        1,
        "delete",
        "Probe photos are deleted as soon as they are embedded; the sweep removes any a failure "
        "left behind within a day.",
    ),
    (
        "probe_embeddings",
        30,
        "anonymise",
        "A search's probe embedding is kept 30 days so the analyst can re-run or check it, "
        "then removed; the search record stays for accountability.",
    ),
    (
        "search_results",
        365,
        "delete",
        "Which organisation received which face is kept a year: long enough to answer access "
        "requests (Art 15 recipients) and to tell recipients of an erasure (Art 19).",
    ),
    (
        "subject_requests",
        1095,
        "anonymise",
        "Proof that a request was handled on time is kept three years (the limitation "
        "period for complaints), with personal details removed.",
    ),
    (
        "access_packages",
        30,
        "delete",
        "An access package is downloadable for 30 days, then deleted.",
    ),
    (
        "audit_events",
        2190,
        "anonymise",
        "Audit rows are never deleted (tamper evidence); after six years their details are "
        "redacted and the chain stays verifiable.",
    ),
]


def retention_policies_ensure(**kwargs: Any) -> None:
    """post_migrate: every data class has a policy (the defaults; the DPO's edits are kept)."""
    for data_class, days, action, reason in DEFAULT_POLICIES:
        RetentionPolicy.objects.get_or_create(
            data_class=data_class,
            defaults={"period_days": days, "action": action, "reason": reason},
        )


def active_holds() -> ActiveHolds:
    holds = list(LegalHold.objects.filter(released_at__isnull=True))
    return ActiveHolds(
        organisation_ids=frozenset(
            h.organisation_id
            for h in holds
            if h.scope == LegalHold.Scope.ORGANISATION and h.organisation_id
        ),
        source_labels=frozenset(h.source_label for h in holds if h.scope == LegalHold.Scope.SOURCE),
        face_ids=frozenset(
            h.face_id_held
            for h in holds
            if h.scope == LegalHold.Scope.FACE and h.face_id_held is not None
        ),
        request_references=frozenset(
            h.request_reference for h in holds if h.scope == LegalHold.Scope.REQUEST
        ),
    )


def _ids_hash(ids: list[int]) -> str:
    return hashlib.sha256(",".join(str(i) for i in sorted(ids)).encode()).hexdigest()


def _receipt(
    *,
    kind: str,
    data_class: str,
    action: str,
    started: datetime,
    cutoff: datetime | None,
    outcome: SweepOutcome,
    parameters: dict[str, Any],
    actor: Any,
) -> SweepReceipt:
    with transaction.atomic():
        receipt = SweepReceipt.objects.create(
            kind=kind,
            data_class=data_class,
            action=action,
            started_at=started,
            finished_at=timezone.now(),
            cutoff=cutoff,
            affected=len(outcome.ids),
            files_deleted=outcome.files_deleted,
            held=outcome.held,
            oldest=outcome.oldest,
            newest=outcome.newest,
            ids_sha256=_ids_hash(outcome.ids),
            parameters=parameters,
            actor_label=getattr(actor, "email", "") or "system",
        )
        audit_record(
            actor=actor,
            action=f"compliance.{kind}_sweep.completed",
            target=receipt,
            outcome="success",
            details={
                "data_class": data_class,
                "affected": receipt.affected,
                "files": receipt.files_deleted,
                "held": receipt.held,
            },
        )
    return receipt


def retention_sweep(
    *, data_class: str, actor: Any = None, chunk_size: int = 1000, now: datetime | None = None
) -> SweepReceipt | None:
    """Apply one data class's policy now; idempotent (a second run finds nothing). None if nothing stores this class yet."""
    if data_class not in retention_sweepers:
        return None
    policy = RetentionPolicy.objects.get(data_class=data_class)
    started = timezone.now()
    cutoff = (now or started) - timedelta(days=policy.period_days)
    outcome = retention_sweepers[data_class].sweep(
        cutoff=cutoff, action=policy.action, holds=active_holds(), chunk_size=chunk_size
    )
    return _receipt(
        kind=SweepReceipt.Kind.RETENTION,
        data_class=data_class,
        action=policy.action,
        started=started,
        cutoff=cutoff,
        outcome=outcome,
        parameters={"period_days": policy.period_days, "chunk_size": chunk_size},
        actor=actor,
    )


def registered_data_classes() -> list[str]:
    """The data classes an app registered a sweeper for, in DataClass order."""
    return [value for value in DataClass.values if value in retention_sweepers]


def retention_sweep_all(*, actor: Any = None) -> list[SweepReceipt]:
    receipts = []
    for data_class in registered_data_classes():
        receipt = retention_sweep(data_class=data_class, actor=actor)
        if receipt is not None:
            receipts.append(receipt)
    return receipts


def jurisdiction_sweep(
    *, actor: Any = None, codes: list[str] | None = None, chunk_size: int = 1000
) -> SweepReceipt:
    """Purge every image and face tied to an excluded jurisdiction, with a receipt."""
    codes = sorted(
        {c.upper() for c in (codes if codes is not None else settings.EXCLUDED_JURISDICTIONS)}
    )
    started = timezone.now()
    purge = jurisdiction_purgers["images"]
    outcome = purge(codes=codes, holds=active_holds(), chunk_size=chunk_size)
    return _receipt(
        kind=SweepReceipt.Kind.JURISDICTION,
        data_class=DataClass.SOURCE_IMAGES,
        action=RetentionAction.DELETE,
        started=started,
        cutoff=None,
        outcome=outcome,
        parameters={"jurisdictions": codes},
        actor=actor,
    )


def sweep_audit_events(
    *, cutoff: datetime, action: str, holds: ActiveHolds, chunk_size: int
) -> SweepOutcome:
    """Audit rows are never deleted: past their period their details are redacted (chain intact)."""

    outcome = SweepOutcome()
    while True:
        rows = list(
            AuditEvent.objects.filter(created_at__lt=cutoff, redacted_at__isnull=True)
            .exclude(details={})
            .exclude(action="compliance.audit_event.redacted")
            .order_by("seq")
            .values_list("seq", "created_at")[:chunk_size]
        )
        if not rows:
            return outcome
        audit_events_redact(seqs=[r[0] for r in rows], actor=None, reason="retention")
        outcome.add([r[0] for r in rows], [r[1] for r in rows], 0)


def retention_backlog(*, now: datetime | None = None) -> dict[str, int]:
    """How many rows of each class are past their period (what the next sweep would take, holds aside)."""
    backlog: dict[str, int] = {}
    for policy in RetentionPolicy.objects.all():
        sweeper = retention_sweepers.get(policy.data_class)
        if sweeper is None:
            continue
        backlog[policy.data_class] = sweeper.backlog(
            data_class=policy.data_class,
            cutoff=(now or timezone.now()) - timedelta(days=policy.period_days),
        )
    return backlog


def backlog_count(*, data_class: str, cutoff: datetime) -> int:

    if data_class != DataClass.AUDIT_EVENTS:
        raise ValueError(data_class)
    return (
        AuditEvent.objects.filter(created_at__lt=cutoff, redacted_at__isnull=True)
        .exclude(details={})
        .count()
    )


# The shortest period a policy may have. A 0-day period would make the next sweep take what is still in use for
# every class: a probe photo between upload and embedding, a search's results before the analyst reads them, an
# access package before the person downloads it, a request's proof the day it is answered, audit details the day
# they are written. None of these has a meaning for "keep 0 days"; data that must go at once is deleted by the
# service that uses it (probe photos, for one), not by the sweep. So 0 is refused for every class.
MINIMUM_PERIOD_DAYS = 1


@transaction.atomic
def retention_policy_update(
    *,
    policy: RetentionPolicy,
    period_days: int,
    action: str,
    reason: str,
    actor: Any,
    ip: str | None = None,
    why: str | None = None,
) -> RetentionPolicy:
    """The DPO changes a policy; before and after are audited.

    ``reason`` is why the policy changes now: it goes to the audit event (the policy's change history). ``why`` is
    the published purpose of the period (the Art 30 record shows it); left out or blank, the published text stays.
    """
    errors: dict[str, str] = {}
    if period_days < MINIMUM_PERIOD_DAYS:
        errors["period_days"] = (
            "Keep data at least one day: a 0-day period would let the next sweep delete data that is still in use."
        )
    if action not in RetentionAction.values:
        errors["action"] = f"Choose one of {', '.join(RetentionAction.values)}."
    if policy.data_class == DataClass.AUDIT_EVENTS and action != RetentionAction.ANONYMISE:
        errors["action"] = (
            "Audit events are never deleted: their details can only be redacted (anonymise)."
        )
    if not reason.strip():
        errors["reason"] = "Give the reason for this change."
    if errors:
        raise ValidationError(errors)
    policy = RetentionPolicy.objects.select_for_update().get(pk=policy.pk)
    before = {"period_days": policy.period_days, "action": policy.action, "why": policy.reason}
    policy.period_days, policy.action, policy.updated_by = period_days, action, actor
    if why is not None and why.strip():
        policy.reason = why.strip()
    policy.save()
    after = {"period_days": period_days, "action": action, "why": policy.reason}
    audit_record(
        actor=actor,
        action="compliance.retention_policy.changed",
        target=policy,
        outcome="success",
        ip=ip,
        details={
            "data_class": policy.data_class,
            "before": {k: v for k, v in before.items() if k != "why" or v != after["why"]},
            "after": {k: v for k, v in after.items() if k != "why" or v != before["why"]},
            "reason": reason.strip(),
        },
    )
    return policy


def retention_policy_history(*, policy: RetentionPolicy) -> list[dict[str, Any]]:
    """The policy's changes, newest first: when, by whom, what changed and the reason given (from the audit log)."""

    events = AuditEvent.objects.filter(
        action="compliance.retention_policy.changed",
        target_type=policy._meta.label_lower,
        target_id=str(policy.pk),
    ).order_by("-seq")
    return [
        {
            "at": e.created_at,
            "by": e.actor_label,
            "before": (e.details or {}).get("before", {}),
            "after": (e.details or {}).get("after", {}),
            "reason": (e.details or {}).get("reason", ""),
        }
        for e in events
    ]


def legal_hold_source_names() -> list[str]:
    """What a source hold can name: every registered source, and the labels of photos stored before imports
    needed a source (their label is all they have)."""
    names = set(Source.objects.values_list("name", flat=True))
    names |= set(SourceImage.objects.values_list("source_label", flat=True).distinct())
    return sorted(n for n in names if n)


def _hold_target_error(
    *, scope: str, organisation: Any, source_label: str, face_id: int | None, request_reference: str
) -> dict[str, str]:
    """The form field naming what is wrong with the hold's target, or {} when the target exists."""
    if scope == LegalHold.Scope.ORGANISATION:
        if organisation is None:
            return {"organisation": "Choose the organisation the hold covers."}
        if not Organisation.objects.filter(pk=getattr(organisation, "pk", organisation)).exists():
            return {"organisation": "There is no such organisation."}
    elif scope == LegalHold.Scope.SOURCE:
        if not source_label:
            return {"source_label": "Choose the source the hold covers."}
        if source_label not in legal_hold_source_names():
            return {
                "source_label": f"There is no source named \u201c{source_label}\u201d: choose one from the list."
            }
    elif scope == LegalHold.Scope.FACE:
        if face_id is None:
            return {"face_id": "Give the id of the face the hold covers."}
        if not Face.objects.filter(pk=face_id).exists():
            return {"face_id": f"There is no face {face_id} (it may have been erased already)."}
    elif scope == LegalHold.Scope.REQUEST:
        if not request_reference:
            return {"request_reference": "Give the reference of the request the hold covers."}
        if not SubjectRequest.objects.filter(reference=request_reference).exists():
            return {"request_reference": f"There is no request {request_reference}."}
    else:
        return {"scope": f"Choose one of {', '.join(LegalHold.Scope.values)}."}
    return {}


@transaction.atomic
def legal_hold_create(
    *,
    scope: str,
    reason: str,
    actor: Any,
    ip: str | None = None,
    organisation: Any = None,
    source_label: str = "",
    face_id: int | None = None,
    request_reference: str = "",
) -> LegalHold:
    """Place a legal hold on something that exists; deletion of what it covers stops at the next sweep.

    Only the target of the chosen scope is kept (a form without JavaScript posts every target field), and a
    target that does not exist is refused with the field that names it: a hold on nothing protects nothing.
    """

    source_label, request_reference = source_label.strip(), request_reference.strip().upper()
    errors = _hold_target_error(
        scope=scope,
        organisation=organisation,
        source_label=source_label,
        face_id=face_id,
        request_reference=request_reference,
    )
    if not reason.strip():
        errors["reason"] = "Give the reason for the hold."
    if errors:
        raise ValidationError(errors)
    hold = LegalHold(scope=scope, reason=reason.strip(), created_by=actor)
    if scope == LegalHold.Scope.ORGANISATION:
        hold.organisation = Organisation.objects.get(pk=getattr(organisation, "pk", organisation))
    elif scope == LegalHold.Scope.SOURCE:
        hold.source_label = source_label
    elif scope == LegalHold.Scope.FACE:
        hold.face_id_held = face_id
    else:
        hold.request_reference = request_reference
    hold.save()
    audit_record(
        actor=actor,
        action="compliance.legal_hold.placed",
        target=hold,
        outcome="success",
        ip=ip,
        details={"scope": scope, "target": hold.target_label, "reason": hold.reason[:200]},
    )
    return hold


@transaction.atomic
def legal_hold_release(*, hold: LegalHold, actor: Any, ip: str | None = None) -> LegalHold:

    hold = LegalHold.objects.select_for_update().get(pk=hold.pk)
    if hold.released_at is not None:
        raise ValidationError("This hold was already released.")
    hold.released_at, hold.released_by = timezone.now(), actor
    hold.save(update_fields=["released_at", "released_by"])
    audit_record(
        actor=actor, action="compliance.legal_hold.released", target=hold, outcome="success", ip=ip
    )
    return hold


def sweepers_register() -> None:
    """Called from ComplianceConfig.ready(): the audit log's sweeper and the legal holds' provider."""
    retention_sweeper_register(
        DataClass.AUDIT_EVENTS, sweep=sweep_audit_events, backlog=backlog_count
    )
    holds_providers.register("legal_holds", active_holds)
    policy_providers.register("retention_policies", retention_policy_list)


def retention_policy_list() -> Any:
    """Every retention policy, in data-class order (the public notice lists them)."""
    return RetentionPolicy.objects.all()
