"""Retention sweeps for subjects/ (registered from SubjectsConfig.ready(), run by compliance.retention):
request records and access packages."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Q

from audit.services import audit_record, subject_pseudonym
from config.data_classes import DataClass
from config.registry import ActiveHolds, SweepOutcome, retention_sweeper_register
from subjects.models import AccessPackage, SubjectRequest

CLOSED = ["completed", "denied", "withdrawn", "lapsed"]


def _requests(cutoff: datetime) -> Q:
    return Q(status__in=CLOSED, received_at__lt=cutoff) & ~Q(email__startswith="subj_")


def sweep_subject_requests(
    *, cutoff: datetime, action: str, holds: ActiveHolds, chunk_size: int
) -> SweepOutcome:
    """Closed requests past their period keep their dates and outcome; the person's details go."""
    outcome = SweepOutcome()
    held = Q(reference__in=holds.request_references)
    outcome.held = SubjectRequest.objects.filter(_requests(cutoff) & held).count()
    while True:
        with transaction.atomic():
            rows = list(
                SubjectRequest.objects.filter(_requests(cutoff))
                .exclude(held)
                .select_for_update(skip_locked=True)
                .order_by("pk")[:chunk_size]
            )
            if not rows:
                return outcome
            for row in rows:
                row.email = subject_pseudonym(row.email) + "@anonymised.invalid"
                row.details, row.urls, row.correction, row.pause_reason = "", [], "", ""
                row.template = None
                row.save(
                    update_fields=[
                        "email",
                        "details",
                        "urls",
                        "correction",
                        "pause_reason",
                        "template",
                    ]
                )
            audit_record(
                actor=None,
                action="subjects.retention.requests_anonymised",
                target="subjects.subjectrequest",
                outcome="success",
                details={"count": len(rows)},
            )
            outcome.add([r.pk for r in rows], [r.received_at for r in rows], 0)


def sweep_access_packages(
    *, cutoff: datetime, action: str, holds: ActiveHolds, chunk_size: int
) -> SweepOutcome:
    """Packages are deleted when their link expires; this catches any left past the period."""
    from subjects.services import access_packages_expire

    outcome = SweepOutcome()
    stale = AccessPackage.objects.filter(deleted_at__isnull=True, created_at__lt=cutoff)
    ids = list(stale.values_list("pk", flat=True))
    times = list(stale.values_list("created_at", flat=True))
    stale.update(expires_at=cutoff)
    access_packages_expire()
    outcome.add(ids, times, len(ids))
    return outcome


def backlog_count(*, data_class: str, cutoff: datetime) -> int:
    if data_class == DataClass.SUBJECT_REQUESTS:
        return SubjectRequest.objects.filter(_requests(cutoff)).count()
    return AccessPackage.objects.filter(deleted_at__isnull=True, created_at__lt=cutoff).count()


def sweepers_register() -> None:
    """Called from SubjectsConfig.ready(): this app sweeps its request records and packages."""
    retention_sweeper_register(
        DataClass.SUBJECT_REQUESTS, sweep=sweep_subject_requests, backlog=backlog_count
    )
    retention_sweeper_register(
        DataClass.ACCESS_PACKAGES, sweep=sweep_access_packages, backlog=backlog_count
    )
