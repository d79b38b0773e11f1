"""Retention: default policies, legal holds, and the sweep engine.

Each data class is swept by a function of the app that owns the data (its services), looked up
here by dotted path; compliance decides *what* expired and writes the receipt, the owning app
decides *how* its rows and files go.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from compliance.models import DataClass, LegalHold, RetentionAction, RetentionPolicy, SweepReceipt
from compliance.services import audit_record

DEFAULT_POLICIES: list[tuple[str, int, str, str]] = [
    ("source_images", 365, "delete", "A photo stays findable for a year after it was last seen at its source; after that the "
     "source no longer shows it and keeping it serves no search purpose."),
    ("faces", 365, "delete", "Faces and their embeddings follow their photo: one year, then deleted (storage limitation, "
     "Art 5(1)(e))."),
    ("face_crops", 365, "delete", "Crops are shown only beside a face's results, so they live exactly as long as the face."),
    ("probe_images", 1, "delete", "Probe photos are deleted as soon as they are embedded; the sweep removes any a failure "
     "left behind within a day."),
    ("probe_embeddings", 30, "anonymise", "A search's probe embedding is kept 30 days so the analyst can re-run or check it, "
     "then removed; the search record stays for accountability."),
    ("search_results", 365, "delete", "Which organisation received which face is kept a year: long enough to answer access "
     "requests (Art 15 recipients) and to tell recipients of an erasure (Art 19)."),
    ("subject_requests", 1095, "anonymise", "Proof that a request was handled on time is kept three years (the limitation "
     "period for complaints), with personal details removed."),
    ("access_packages", 30, "delete", "An access package is downloadable for 30 days, then deleted."),
    ("audit_events", 2190, "anonymise", "Audit rows are never deleted (tamper evidence); after six years their details are "
     "redacted and the chain stays verifiable."),
]  # fmt: skip

# Who sweeps each class: "module.function(*, cutoff, action, holds, chunk_size) -> SweepOutcome".
SWEEPERS: dict[str, str] = {
    DataClass.SOURCE_IMAGES: "search.retention.sweep_source_images",
    DataClass.FACES: "search.retention.sweep_faces",
    DataClass.FACE_CROPS: "search.retention.sweep_face_crops",
    DataClass.PROBE_IMAGES: "search.retention.sweep_probe_images",
    DataClass.PROBE_EMBEDDINGS: "search.retention.sweep_probe_embeddings",
    DataClass.SEARCH_RESULTS: "search.retention.sweep_search_results",
    DataClass.AUDIT_EVENTS: "compliance.retention.sweep_audit_events",
    DataClass.SUBJECT_REQUESTS: "subjects.retention.sweep_subject_requests",
    DataClass.ACCESS_PACKAGES: "subjects.retention.sweep_access_packages",
}


def retention_policies_ensure(**kwargs: Any) -> None:
    """post_migrate: every data class has a policy (the defaults; the DPO's edits are kept)."""
    for data_class, days, action, reason in DEFAULT_POLICIES:
        RetentionPolicy.objects.get_or_create(
            data_class=data_class, defaults={"period_days": days, "action": action, "reason": reason}
        )


@dataclass(frozen=True)
class ActiveHolds:
    organisation_ids: frozenset[int] = frozenset()
    source_labels: frozenset[str] = frozenset()
    face_ids: frozenset[int] = frozenset()
    request_references: frozenset[str] = frozenset()


def active_holds() -> ActiveHolds:
    holds = list(LegalHold.objects.filter(released_at__isnull=True))
    return ActiveHolds(
        organisation_ids=frozenset(
            h.organisation_id for h in holds if h.scope == LegalHold.Scope.ORGANISATION and h.organisation_id
        ),
        source_labels=frozenset(h.source_label for h in holds if h.scope == LegalHold.Scope.SOURCE),
        face_ids=frozenset(h.face_id_held for h in holds if h.scope == LegalHold.Scope.FACE and h.face_id_held is not None),
        request_references=frozenset(h.request_reference for h in holds if h.scope == LegalHold.Scope.REQUEST),
    )


@dataclass
class SweepOutcome:
    """What a sweeper did: filled chunk by chunk."""

    ids: list[int] = field(default_factory=list)
    files_deleted: int = 0
    held: int = 0
    oldest: datetime | None = None
    newest: datetime | None = None

    def add(self, ids: list[int], times: list[datetime], files: int) -> None:
        self.ids.extend(ids)
        self.files_deleted += files
        if times:
            self.oldest = min([t for t in (self.oldest, *times) if t is not None])
            self.newest = max([t for t in (self.newest, *times) if t is not None])


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
            kind=kind, data_class=data_class, action=action, started_at=started, finished_at=timezone.now(), cutoff=cutoff,
            affected=len(outcome.ids), files_deleted=outcome.files_deleted, held=outcome.held, oldest=outcome.oldest,
            newest=outcome.newest, ids_sha256=_ids_hash(outcome.ids), parameters=parameters,
            actor_label=getattr(actor, "email", "") or "system",
        )  # fmt: skip
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
    if data_class not in SWEEPERS:
        return None
    policy = RetentionPolicy.objects.get(data_class=data_class)
    started = timezone.now()
    cutoff = (now or started) - timedelta(days=policy.period_days)
    sweeper: Callable[..., SweepOutcome] = import_string(SWEEPERS[data_class])
    outcome = sweeper(cutoff=cutoff, action=policy.action, holds=active_holds(), chunk_size=chunk_size)
    return _receipt(
        kind=SweepReceipt.Kind.RETENTION, data_class=data_class, action=policy.action, started=started, cutoff=cutoff,
        outcome=outcome, parameters={"period_days": policy.period_days, "chunk_size": chunk_size}, actor=actor,
    )  # fmt: skip


def retention_sweep_all(*, actor: Any = None) -> list[SweepReceipt]:
    receipts = []
    for data_class in SWEEPERS:
        receipt = retention_sweep(data_class=data_class, actor=actor)
        if receipt is not None:
            receipts.append(receipt)
    return receipts


def jurisdiction_sweep(*, actor: Any = None, codes: list[str] | None = None, chunk_size: int = 1000) -> SweepReceipt:
    """Purge every image and face tied to an excluded jurisdiction, with a receipt."""
    from django.conf import settings

    codes = sorted({c.upper() for c in (codes if codes is not None else settings.EXCLUDED_JURISDICTIONS)})
    started = timezone.now()
    sweeper: Callable[..., SweepOutcome] = import_string("search.retention.purge_jurisdictions")
    outcome = sweeper(codes=codes, holds=active_holds(), chunk_size=chunk_size)
    return _receipt(
        kind=SweepReceipt.Kind.JURISDICTION, data_class=DataClass.SOURCE_IMAGES, action=RetentionAction.DELETE,
        started=started, cutoff=None, outcome=outcome, parameters={"jurisdictions": codes}, actor=actor,
    )  # fmt: skip


def sweep_audit_events(*, cutoff: datetime, action: str, holds: ActiveHolds, chunk_size: int) -> SweepOutcome:
    """Audit rows are never deleted: past their period their details are redacted (chain intact)."""
    from compliance.models import AuditEvent
    from compliance.services import audit_events_redact

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
        path = SWEEPERS.get(policy.data_class)
        if path is None:
            continue
        counter = import_string(path.rsplit(".", 1)[0] + ".backlog_count")
        backlog[policy.data_class] = counter(
            data_class=policy.data_class, cutoff=(now or timezone.now()) - timedelta(days=policy.period_days)
        )
    return backlog


def backlog_count(*, data_class: str, cutoff: datetime) -> int:
    from compliance.models import AuditEvent

    if data_class != DataClass.AUDIT_EVENTS:
        raise ValueError(data_class)
    return AuditEvent.objects.filter(created_at__lt=cutoff, redacted_at__isnull=True).exclude(details={}).count()


@transaction.atomic
def retention_policy_update(
    *, policy: RetentionPolicy, period_days: int, action: str, reason: str, actor: Any, ip: str | None = None
) -> RetentionPolicy:
    """The DPO changes a policy; before and after are audited."""
    from django.core.exceptions import ValidationError

    if policy.data_class == DataClass.AUDIT_EVENTS and action != RetentionAction.ANONYMISE:
        raise ValidationError("Audit events are never deleted: their details can only be redacted (anonymise).")
    if not reason.strip():
        raise ValidationError("Give the reason for this period.")
    policy = RetentionPolicy.objects.select_for_update().get(pk=policy.pk)
    before = {"period_days": policy.period_days, "action": policy.action}
    policy.period_days, policy.action, policy.reason, policy.updated_by = period_days, action, reason.strip(), actor
    policy.save()
    audit_record(
        actor=actor,
        action="compliance.retention_policy.changed",
        target=policy,
        outcome="success",
        ip=ip,
        details={"data_class": policy.data_class, "before": before, "after": {"period_days": period_days, "action": action}},
    )
    return policy


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
    """Place a legal hold; deletion of what it covers stops at the next sweep."""
    from django.core.exceptions import ValidationError

    hold = LegalHold(
        scope=scope,
        reason=reason.strip(),
        created_by=actor,
        organisation=organisation,
        source_label=source_label.strip(),
        face_id_held=face_id,
        request_reference=request_reference.strip(),
    )
    if not hold.reason:
        raise ValidationError("Give the reason for the hold.")
    try:
        with transaction.atomic():
            hold.save()
    except Exception as exc:  # the check constraint: the target does not match the scope
        raise ValidationError("Name what the hold covers: the organisation, source, face or request of its scope.") from exc
    audit_record(
        actor=actor,
        action="compliance.legal_hold.placed",
        target=hold,
        outcome="success",
        ip=ip,
        details={"scope": scope, "reason": hold.reason[:200]},
    )
    return hold


@transaction.atomic
def legal_hold_release(*, hold: LegalHold, actor: Any, ip: str | None = None) -> LegalHold:
    from django.core.exceptions import ValidationError

    hold = LegalHold.objects.select_for_update().get(pk=hold.pk)
    if hold.released_at is not None:
        raise ValidationError("This hold was already released.")
    hold.released_at, hold.released_by = timezone.now(), actor
    hold.save(update_fields=["released_at", "released_by"])
    audit_record(actor=actor, action="compliance.legal_hold.released", target=hold, outcome="success", ip=ip)
    return hold
