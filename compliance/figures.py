"""The transparency report's sections, and its figures about retention and the audit log
(registered from ComplianceConfig.ready(); the other apps register theirs)."""

from __future__ import annotations

from typing import Any

from django.db.models import Sum
from django.utils.translation import gettext_lazy as _

from compliance.models import SweepReceipt
from compliance.transparency import _anchor, _verified_through
from config.figures import SECTIONS, Period, Rule, Section, Series, in_period, register


def _sweeps(period: Period) -> Any:
    return SweepReceipt.objects.filter(
        in_period(period, "started_at"), kind=SweepReceipt.Kind.RETENTION
    )


def figures_register() -> None:
    """The sections in page order; retention sweeps; the audit chain's verified and anchored ends."""
    SECTIONS.extend(
        [
            Section("searches", _("Searches by customer organisations")),
            Section("requests", _("Requests from the people in our index")),
            Section("erasures", _("Erasures and objections")),
            Section("crawling", _("Collection: sources and opt-out signals")),
            Section("retention", _("Retention")),
            Section("audit", _("Audit log")),
        ]
    )

    register(
        Series(
            "retention.sweeps",
            "retention",
            _("Retention sweeps run"),
            lambda p: _sweeps(p).count(),
            rule=Rule.EXACT,
        )
    )
    register(
        Series(
            "retention.rows",
            "retention",
            _("Rows deleted or anonymised by those sweeps"),
            lambda p: int(_sweeps(p).aggregate(n=Sum("affected"))["n"] or 0),
        )
    )

    register(
        Series(
            "audit.verified_through",
            "audit",
            _("Audit chain verified through event number"),
            _verified_through,
            rule=Rule.IDENTIFIER,
            live=True,
        )
    )
    register(
        Series(
            "audit.anchor_seq",
            "audit",
            _("Latest anchor: event number"),
            lambda p: (_anchor(p) or {}).get("last_seq"),
            rule=Rule.IDENTIFIER,
            live=True,
        )
    )
    register(
        Series(
            "audit.anchor_hash",
            "audit",
            _("Latest anchor: hash (SHA-256)"),
            lambda p: (_anchor(p) or {}).get("last_hash"),
            rule=Rule.IDENTIFIER,
            live=True,
        )
    )
