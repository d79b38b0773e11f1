"""The transparency report's figures about collection: sources and opt-out signals (registered from
CrawlingConfig.ready())."""

from __future__ import annotations

from functools import partial

from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from audit.models import AuditEvent
from config.figures import Period, Rule, Series, in_period, register
from crawling.models import CrawlItem

# Opt-out signals as the crawler records them (CrawlItem.reason); see crawling/fetcher.py.
OPT_OUT_SIGNALS: dict[str, tuple[Promise, tuple[str, ...]]] = {
    "robots": (_("robots.txt disallow"), ("robots_disallow",)),
    "noimageindex": (
        _("noimageindex (robots meta tag or X-Robots-Tag)"),
        ("meta_robots_opt_out", "x_robots_tag_opt_out"),
    ),
    "tdm": (_("TDM reservation (TDMRep)"), ("tdm_reservation",)),
}


def _opt_out(period: Period, *, reasons: tuple[str, ...], kind: str) -> int:
    """Items skipped for this signal, counted in the month their crawl job was created."""
    return CrawlItem.objects.filter(
        in_period(period, "job__created_at"),
        status=CrawlItem.Status.SKIPPED,
        reason__in=reasons,
        kind=kind,
    ).count()


def _audit_count(period: Period, action: str) -> int:
    return AuditEvent.objects.filter(in_period(period, "created_at"), action=action).count()


def figures_register() -> None:
    """Sources approved and suspended; pages and images skipped for each opt-out signal."""
    register(
        Series(
            "sources.approved",
            "crawling",
            _("Crawl sources approved"),
            lambda p: _audit_count(p, "crawling.source.approved"),
            rule=Rule.EXACT,
        )
    )
    register(
        Series(
            "sources.suspended",
            "crawling",
            _("Crawl sources suspended"),
            lambda p: _audit_count(p, "crawling.source.suspended"),
            rule=Rule.EXACT,
        )
    )
    for kind, kind_label in (
        ("page", _("Pages skipped because of an opt-out signal")),
        ("image", _("Images skipped because of an opt-out signal")),
    ):
        for signal, (signal_label, reasons) in OPT_OUT_SIGNALS.items():
            register(
                Series(
                    f"optout.{signal}.{kind}",
                    "crawling",
                    format_lazy("{}: {}", kind_label, signal_label),
                    partial(_opt_out, reasons=reasons, kind=kind),
                    heading=kind_label,
                    short=signal_label,
                )
            )
