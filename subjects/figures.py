"""The transparency report's figures about requests, erasures and objections (registered from
SubjectsConfig.ready())."""

from __future__ import annotations

import statistics
from functools import partial
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from audit.models import AuditEvent
from config.figures import Period, Rule, Series, in_period, register
from search.models import Suppression
from subjects.models import ErasureReceipt, RequestType, SubjectRequest


def _answered(period: Period) -> Any:
    S = SubjectRequest.Status
    return SubjectRequest.objects.filter(
        in_period(period, "completed_at"), status__in=[S.COMPLETED, S.DENIED]
    )


def _requests_received(period: Period, type_: str | None = None) -> int:
    qs = SubjectRequest.objects.filter(in_period(period, "received_at"), verified_at__isnull=False)
    return (qs.filter(type=type_) if type_ else qs).count()


def _on_time(period: Period, type_: str | None = None) -> int:
    qs = _answered(period)
    qs = qs.filter(type=type_) if type_ else qs
    return sum(
        1
        for done, due in qs.values_list("completed_at", "due_date")
        if timezone.localdate(done) <= due
    )


def _late(period: Period) -> int:
    return _answered(period).count() - _on_time(period, None)


def _extended(period: Period, type_: str | None = None) -> int:
    qs = SubjectRequest.objects.filter(in_period(period, "extended_at"))
    return (qs.filter(type=type_) if type_ else qs).count()


def _overdue(period: Period, type_: str | None = None) -> int:
    """Confirmed requests still unanswered when the month ended (or now) and past their due date."""
    as_of = period.as_of
    qs = SubjectRequest.objects.filter(
        verified_at__lt=as_of, due_date__lt=timezone.localdate(as_of)
    ).filter(Q(completed_at__isnull=True) | Q(completed_at__gte=as_of))
    return (qs.filter(type=type_) if type_ else qs).count()


def _median_days(period: Period) -> float | None:
    rows = list(_answered(period).values_list("received_at", "completed_at"))
    if not rows:
        return None
    return float(statistics.median((done - got).total_seconds() / 86400 for got, done in rows))


def _receipts(period: Period, type_: str) -> Any:
    return ErasureReceipt.objects.filter(in_period(period, "created_at"), request__type=type_)


def _faces_removed(period: Period) -> int:
    return sum(
        int((counts or {}).get("faces", 0))
        for counts in _receipts(period, RequestType.ERASURE).values_list("counts", flat=True)
    )


def _do_not_collect(period: Period) -> int:
    return Suppression.objects.filter(created_at__lt=period.as_of).count()


def _audit_count(period: Period, action: str) -> int:
    return AuditEvent.objects.filter(in_period(period, "created_at"), action=action).count()


def figures_register() -> None:
    """Requests by type and outcome, withholding claims (Art 23), erasures and objections."""
    types: list[tuple[str | None, Any]] = [(None, _("all types")), *RequestType.choices]
    for metric, title, query in (
        ("received", _("Requests received (email confirmed)"), _requests_received),
        ("on_time", _("Requests answered on time"), _on_time),
        ("extended", _("Requests extended"), _extended),
        ("overdue", _("Requests overdue at the end of the month"), _overdue),
    ):
        for type_, label in types:
            register(
                Series(
                    f"requests.{metric}.{type_ or 'total'}",
                    "requests",
                    format_lazy("{}: {}", title, label),
                    partial(query, type_=type_),
                    group=f"requests.{metric}",
                    total=type_ is None,
                    heading=title,
                    short=label,
                    also_in=("answered",) if metric == "on_time" and type_ is None else (),
                )
            )
    register(
        Series(
            "requests.answered.total",
            "requests",
            _("Requests answered"),
            lambda p: _answered(p).count(),
            group="answered",
            total=True,
        )
    )
    register(
        Series(
            "requests.answered.late",
            "requests",
            _("Requests answered: late"),
            _late,
            group="answered",
        )
    )
    register(
        Series(
            "requests.median_days",
            "requests",
            _("Median time to answer"),
            _median_days,
            rule=Rule.DERIVED,
            base="requests.answered.total",
            unit=_("days"),
        )
    )

    # Organisations' claims that a restriction of the right of access (Art 23) covers a search, and
    # the DPO's decisions (issue 22 §4): counted from the audit log in the month they were made.
    for what, label in (
        (
            "claimed",
            _("Withholding claims under a legal restriction (Art 23) made by organisations"),
        ),
        ("approved", _("Withholding claims approved by our DPO")),
        ("refused", _("Withholding claims refused by our DPO")),
    ):
        register(
            Series(
                f"requests.withholding.{what}",
                "requests",
                label,
                partial(_audit_count, action=f"search.access_restriction.{what}"),
            )
        )
    register(
        Series(
            "erasures.total",
            "erasures",
            _("Erasures carried out"),
            lambda p: _receipts(p, RequestType.ERASURE).count(),
        )
    )
    register(
        Series(
            "erasures.faces_removed",
            "erasures",
            _("Faces removed by those erasures"),
            _faces_removed,
            rule=Rule.DERIVED,
            base="erasures.total",
        )
    )
    register(
        Series(
            "objections.total",
            "erasures",
            _("Objections carried out"),
            lambda p: _receipts(p, RequestType.OBJECTION).count(),
        )
    )
    register(
        Series(
            "objections.do_not_collect",
            "erasures",
            _("Entries on the do-not-collect list (rounded down)"),
            _do_not_collect,
            rule=Rule.RUNNING_TOTAL,
        )
    )
