"""The public transparency report: monthly figures from live data, with small counts suppressed.

The figures are a registry of series (``config.figures.SERIES``): each has a key, a translatable
label, a rule and a query over one month. Each app registers its own from ``AppConfig.ready()``
(``<app>/figures.py``); adding a series is one ``register(...)`` call there. ``report_for`` computes
a month, applies the suppression rule and returns only what may be published: the raw values of
suppressed cells never leave this module.

The suppression rule (also stated on the page and in docs/transparency.md):

1. A count of people, requests, searches, organisations, faces, pages or rows between 1 and 4 is
   published as "< 5". Zero is published as 0: it describes no one.
2. Complementary suppression: in a breakdown whose total is published (for example searches by
   lawful basis), when exactly one cell is suppressed, the smallest other non-zero cell is withheld
   too, so the hidden cell cannot be found by subtraction. Repeated until stable.
3. A median or a sum computed from fewer than 5 cases (time to answer, faces removed) is withheld.
4. A running total (the do-not-collect list) is rounded down to a multiple of 5, so the difference
   between two months never gives an exact small number.
5. Counts of our own decisions and runs (sources approved or suspended, retention sweeps) and the
   audit chain's sequence numbers and hashes describe no person and are published exactly.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config.figures import (  # noqa: F401  (re-exported: the registry's types and calls)
    SECTIONS,
    SERIES,
    Period,
    Rule,
    Section,
    Series,
    Value,
    in_period,
    register,
)

THRESHOLD = 5
SMALL = "< 5"
CLOSED_MONTH_CACHE_SECONDS = 30 * 24 * 3600
OPEN_MONTH_CACHE_SECONDS = 300
CHAIN_CACHE_SECONDS = 3 * 3600  # checked hourly; kept through two missed runs
CHAIN_KEY = "transparency:chain"
CACHE_VERSION = 1


class Withheld(enum.Enum):
    NO = ""
    SMALL = "small"  # rule 1
    COMPLEMENTARY = "complementary"  # rule 2
    FEW_CASES = "few_cases"  # rule 3
    ROUNDED = "rounded"  # rule 4 (published, rounded)


@dataclass(frozen=True)
class Figure:
    """One published figure: ``shown`` is what the page, the CSV and the JSON print."""

    key: str
    section: str
    label: str
    shown: str
    number: (
        int | float | None
    )  # the published number when exact or rounded; None when withheld or text
    withheld: str = ""
    unit: str = ""
    heading: str = ""
    short: str = ""
    rule: str = ""


@dataclass
class Report:
    period: Period
    figures: list[Figure] = field(default_factory=list)

    def by_key(self) -> dict[str, Figure]:
        return {f.key: f for f in self.figures}


# --- suppression ---------------------------------------------------------------------------------


def _format(value: Value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def suppress(
    raw: dict[str, Value], series: list[Series]
) -> dict[str, tuple[str, int | float | None, Withheld]]:
    """Apply the rule to one month's raw values; returns key -> (shown, number, why withheld)."""
    out: dict[str, tuple[str, int | float | None, Withheld]] = {}
    for s in series:
        value = raw.get(s.key)
        if s.rule is Rule.COUNT and isinstance(value, int) and 0 < value < THRESHOLD:
            out[s.key] = (SMALL, None, Withheld.SMALL)
        elif s.rule is Rule.RUNNING_TOTAL and isinstance(value, int):
            if 0 < value < THRESHOLD:
                out[s.key] = (SMALL, None, Withheld.SMALL)
            else:
                rounded = value - value % THRESHOLD
                out[s.key] = (
                    str(rounded),
                    rounded,
                    Withheld.ROUNDED if rounded != value else Withheld.NO,
                )
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[s.key] = (_format(value), value, Withheld.NO)
        else:
            out[s.key] = (_format(value), None, Withheld.NO)
    _complementary(raw, series, out)
    for s in series:
        if s.rule is Rule.DERIVED:
            cases = raw.get(s.base)
            if not isinstance(cases, int) or cases < THRESHOLD:
                out[s.key] = ("—" if not cases else str(_("withheld")), None, Withheld.FEW_CASES)
    return out


def _complementary(
    raw: dict[str, Value], series: list[Series], out: dict[str, tuple[str, Any, Withheld]]
) -> None:
    """Rule 2. A group is a total and the cells that add up to it: one equation, so a group with
    exactly one hidden member (cell or total) gives it away; hide one more until none has."""
    groups: dict[str, list[Series]] = {}
    for s in series:
        if s.rule is not Rule.COUNT:
            continue
        for name in filter(None, (s.group, *s.also_in)):
            groups.setdefault(name, []).append(s)
    changed = True
    while changed:
        changed = False
        for name, members in groups.items():
            hidden = [s for s in members if out[s.key][2] is not Withheld.NO]
            if len(hidden) != 1:
                continue
            published = [s for s in members if out[s.key][2] is Withheld.NO]
            cells = sorted(
                (
                    s
                    for s in published
                    if not (s.total and s.group == name)
                    and isinstance(raw.get(s.key), int)
                    and raw[s.key]
                ),
                key=lambda s: (raw[s.key], s.key),
            )
            totals = [s for s in published if s.total and s.group == name]
            victims = cells or totals
            if not victims:
                continue  # every other member is 0: the hidden one is then the total's exact remainder of 0 cells
            out[victims[0].key] = (str(_("withheld")), None, Withheld.COMPLEMENTARY)
            changed = True


# --- computing a month ----------------------------------------------------------------------------


def _cache_key(period: Period) -> str:
    return f"transparency:v{CACHE_VERSION}:{len(SERIES)}:{period.key}"


def raw_figures(period: Period, *, first_month: date | None = None) -> dict[str, Value]:
    """Raw values for a month (not publishable: call ``report_for``). Closed months are cached.

    A month before ``first_month`` (the first record) holds nothing: zeros, without a query.
    """
    if first_month is not None and period.month < first_month:
        return {s.key: None if s.rule in (Rule.IDENTIFIER, Rule.DERIVED) else 0 for s in SERIES}
    key = _cache_key(period)
    cached = cache.get(key)
    if cached is None:
        cached = {s.key: s.query(period) for s in SERIES if not s.live}
        cache.set(
            key, cached, CLOSED_MONTH_CACHE_SECONDS if period.closed else OPEN_MONTH_CACHE_SECONDS
        )
    live = {s.key: s.query(period) for s in SERIES if s.live}
    return {**cached, **live}


def series_in_order() -> list[Series]:
    """Every registered series, section by section (page order), each app's in its own order."""
    position = {section.key: i for i, section in enumerate(SECTIONS)}
    return sorted(SERIES, key=lambda s: position.get(s.section, len(position)))


def report_for(*, month: date, first_month: date | None = None) -> Report:
    """The published (suppressed) figures of one month, in registry order."""
    period = Period.of(month)
    raw = raw_figures(period, first_month=first_month)
    shown = suppress(raw, SERIES)
    report = Report(period)
    for s in series_in_order():
        text, number, why = shown[s.key]
        report.figures.append(
            Figure(
                key=s.key,
                section=s.section,
                label=str(s.label),
                shown=text,
                number=number,
                withheld=why.value,
                unit=str(s.unit),
                rule=s.rule.value,
                heading=str(s.heading),
                short=str(s.short or s.label),
            )
        )
    return report


def _first_record_month() -> date | None:
    """The month of the first audit event, search or subject request (nothing is counted before it)."""
    from compliance.models import AuditEvent
    from search.models import SearchRequest
    from subjects.models import SubjectRequest

    firsts = [
        AuditEvent.objects.order_by("seq").values_list("created_at", flat=True).first(),
        SearchRequest.objects.order_by("created_at").values_list("created_at", flat=True).first(),
        SubjectRequest.objects.order_by("received_at")
        .values_list("received_at", flat=True)
        .first(),
    ]
    return min((timezone.localdate(f).replace(day=1) for f in firsts if f), default=None)


def months_available(*, now: datetime | None = None, limit: int = 36) -> list[date]:
    """Months with a report, newest first, at most ``limit``: closed months (and the current one only
    when ``TRANSPARENCY_OPEN_MONTH``) from the first audit event, search or request on; at least one."""
    this_month = timezone.localdate(now or timezone.now()).replace(day=1)
    newest = (
        this_month
        if settings.TRANSPARENCY_OPEN_MONTH
        else (this_month - timedelta(days=1)).replace(day=1)
    )
    earliest = _first_record_month() or newest
    months = [newest]
    while months[-1] > earliest and len(months) < limit:
        months.append((months[-1] - timedelta(days=1)).replace(day=1))
    return months


def history(*, month: date, months: int = 12) -> list[Report]:
    """The ``months`` reports ending with ``month``, oldest first (for the charts)."""
    period = Period.of(month)
    first = _first_record_month()
    return [
        report_for(month=period.previous(n).month, first_month=first)
        for n in range(months - 1, -1, -1)
    ]


# --- the series ------------------------------------------------------------------------------------


def _last_seq(period: Period) -> int | None:
    from compliance.models import AuditEvent

    return (
        AuditEvent.objects.filter(created_at__lt=period.end)
        .order_by("-seq")
        .values_list("seq", flat=True)
        .first()
    )


def chain_check() -> dict[str, Any]:
    """Verify the transparency log and keep the result for the report (run hourly by Celery beat).

    The page never verifies by itself: a full check rereads every row, which an anonymous visitor
    must not be able to start. The state names the verified tree (size, root) and its checkpoint.
    """
    from audit.selectors import audit_chain_verify
    from audit.tlog import checkpoint_latest

    report = audit_chain_verify()
    latest = checkpoint_latest()
    state = {
        "ok": report.ok,
        "last_seq": report.last_seq,
        "broken_seq": report.broken_seq,
        "reason": report.reason,
        "tree_size": report.tree_size,
        "root": report.last_hash,
        "checkpoint_size": latest["tree_size"] if latest else None,
        "at": timezone.now(),
    }
    cache.set(CHAIN_KEY, state, CHAIN_CACHE_SECONDS)
    return state


def chain_state() -> dict[str, Any] | None:
    """The latest kept check, or None until beat's hourly check has run (a page never queues one).

    ``tree``: the current signed tree (size, root, checkpoint note), read from its table, cheap."""
    from audit.tlog import b64, checkpoint_latest

    state: dict[str, Any] | None = cache.get(CHAIN_KEY)
    if state is None:
        return None
    latest = checkpoint_latest()
    tree = (
        {"size": latest["tree_size"], "root": b64(latest["root_hash"]), "note": latest["note"]}
        if latest
        else None
    )
    return {**state, "tree": tree}


def _verified_through(period: Period) -> int | None:
    last = _last_seq(period)
    if last is None:
        return None
    state = chain_state()
    if state is None:
        return None
    through = state["last_seq"] if state["ok"] else (state["broken_seq"] or 1) - 1
    return min(last, through or 0) or None


def _anchor(period: Period) -> dict[str, Any] | None:
    """The latest anchor written before the period's end: ``last_seq`` is the event of its last
    leaf, ``last_hash`` the tree root (hex) of its signed checkpoint (old chain anchors as written)."""
    import base64

    from audit.selectors import audit_anchor_list

    inside = [
        a
        for a in audit_anchor_list()
        if a.get("at_time")
        and a["at_time"] < period.end
        and (a.get("last_seq") or a.get("tree_size"))
    ]
    if not inside:
        return None
    anchor = max(inside, key=lambda a: a["at_time"])
    if anchor.get("tree_size"):
        from audit.models import AuditEvent

        last = (
            AuditEvent.objects.filter(leaf_index=anchor["tree_size"] - 1)
            .values_list("seq", flat=True)
            .first()
        )
        anchor = {
            **anchor,
            "last_seq": last,
            "last_hash": base64.b64decode(anchor["root"]).hex() if anchor.get("root") else None,
        }
    return anchor
