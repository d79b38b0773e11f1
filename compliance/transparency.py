"""The public transparency report: monthly figures from live data, with small counts suppressed.

The figures are a registry of series (``SERIES``): each has a key, a translatable label, a rule
and a query over one month. Adding a series is one ``register(...)`` call. ``report_for`` computes
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

import calendar
import enum
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from config.tasks import enqueue  # noqa: F401 (the report queues its own tasks elsewhere)

THRESHOLD = 5
SMALL = "< 5"
CLOSED_MONTH_CACHE_SECONDS = 30 * 24 * 3600
OPEN_MONTH_CACHE_SECONDS = 300
CHAIN_CACHE_SECONDS = 3 * 3600  # checked hourly; kept through two missed runs
CHAIN_KEY = "transparency:chain"
CACHE_VERSION = 1


class Rule(enum.Enum):
    COUNT = "count"  # rule 1 (and 2 within its group)
    DERIVED = "derived"  # rule 3: needs ``base`` (the count of cases it is computed from)
    RUNNING_TOTAL = "running_total"  # rule 4
    EXACT = "exact"  # rule 5: our own decisions and runs
    IDENTIFIER = "identifier"  # rule 5: sequence numbers and hashes (no chart)


class Withheld(enum.Enum):
    NO = ""
    SMALL = "small"  # rule 1
    COMPLEMENTARY = "complementary"  # rule 2
    FEW_CASES = "few_cases"  # rule 3
    ROUNDED = "rounded"  # rule 4 (published, rounded)


@dataclass(frozen=True)
class Period:
    """One calendar month in the site's time zone; ``end`` is exclusive."""

    month: date
    start: datetime
    end: datetime

    @classmethod
    def of(cls, month: date) -> Period:
        first = month.replace(day=1)
        after = (first + timedelta(days=32)).replace(day=1)
        tz = timezone.get_current_timezone()
        return cls(
            first,
            timezone.make_aware(datetime(first.year, first.month, 1), tz),
            timezone.make_aware(datetime(after.year, after.month, 1), tz),
        )

    @property
    def key(self) -> str:
        return f"{self.month:%Y-%m}"

    @property
    def closed(self) -> bool:
        return self.end <= timezone.now()

    @property
    def as_of(self) -> datetime:
        """State figures are taken at the month's end, or now for the current month."""
        return min(self.end, timezone.now())

    @property
    def last_day(self) -> date:
        return self.month.replace(day=calendar.monthrange(self.month.year, self.month.month)[1])

    def previous(self, n: int = 1) -> Period:
        month = self.month
        for _i in range(n):
            month = (month - timedelta(days=1)).replace(day=1)
        return Period.of(month)


Value = int | float | str | None


@dataclass(frozen=True)
class Series:
    key: str
    section: str
    label: Promise | str
    query: Callable[[Period], Value]
    rule: Rule = Rule.COUNT
    group: str = ""  # breakdown for rule 2; its total has ``total=True``
    total: bool = False
    base: str = ""  # rule 3: the series counting the cases this figure is computed from
    unit: Promise | str = ""
    live: bool = False  # recomputed on every view (never cached with the month)
    heading: Promise | str = ""  # the page groups consecutive series under it and shows ``short``
    short: Promise | str = ""
    also_in: tuple[str, ...] = ()  # further groups where this series is a cell (never their total)


@dataclass(frozen=True)
class Section:
    key: str
    title: Promise | str


SECTIONS: list[Section] = []
SERIES: list[Series] = []


def register(series: Series) -> Series:
    """Add a series to the report (keys are unique)."""
    if any(s.key == series.key for s in SERIES):
        raise ValueError(f"series {series.key!r} is already registered")
    SERIES.append(series)
    return series


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


def report_for(*, month: date, first_month: date | None = None) -> Report:
    """The published (suppressed) figures of one month, in registry order."""
    period = Period.of(month)
    raw = raw_figures(period, first_month=first_month)
    shown = suppress(raw, SERIES)
    report = Report(period)
    for s in SERIES:
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


def _in(period: Period, field_name: str) -> Q:
    return Q(**{f"{field_name}__gte": period.start, f"{field_name}__lt": period.end})


def _basis_count(period: Period, *, basis: str) -> int:
    return int(_searches(period).filter(lawful_basis=basis).count())


def _searches(period: Period) -> Any:
    from search.models import SearchRequest

    return SearchRequest.objects.filter(_in(period, "created_at"))


def _answered(period: Period) -> Any:
    from subjects.models import SubjectRequest

    S = SubjectRequest.Status
    return SubjectRequest.objects.filter(
        _in(period, "completed_at"), status__in=[S.COMPLETED, S.DENIED]
    )


def _requests_received(period: Period, type_: str | None = None) -> int:
    from subjects.models import SubjectRequest

    qs = SubjectRequest.objects.filter(_in(period, "received_at"), verified_at__isnull=False)
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
    from subjects.models import SubjectRequest

    qs = SubjectRequest.objects.filter(_in(period, "extended_at"))
    return (qs.filter(type=type_) if type_ else qs).count()


def _overdue(period: Period, type_: str | None = None) -> int:
    """Confirmed requests still unanswered when the month ended (or now) and past their due date."""
    from subjects.models import SubjectRequest

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
    from subjects.models import ErasureReceipt

    return ErasureReceipt.objects.filter(_in(period, "created_at"), request__type=type_)


def _faces_removed(period: Period) -> int:
    from subjects.models import RequestType

    return sum(
        int((counts or {}).get("faces", 0))
        for counts in _receipts(period, RequestType.ERASURE).values_list("counts", flat=True)
    )


def _do_not_collect(period: Period) -> int:
    from search.models import Suppression

    return Suppression.objects.filter(created_at__lt=period.as_of).count()


def _audit_count(period: Period, action: str) -> int:
    from compliance.models import AuditEvent

    return AuditEvent.objects.filter(_in(period, "created_at"), action=action).count()


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
    from crawling.models import CrawlItem

    return CrawlItem.objects.filter(
        _in(period, "job__created_at"),
        status=CrawlItem.Status.SKIPPED,
        reason__in=reasons,
        kind=kind,
    ).count()


def _sweeps(period: Period) -> Any:
    from compliance.models import SweepReceipt

    return SweepReceipt.objects.filter(_in(period, "started_at"), kind=SweepReceipt.Kind.RETENTION)


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


def _register_all() -> None:
    from search.models import LawfulBasis
    from subjects.models import RequestType

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
            "searches.total",
            "searches",
            _("Searches"),
            lambda p: _searches(p).count(),
            group="basis",
            total=True,
        )
    )
    for (
        basis,
        label,
    ) in LawfulBasis.choices:  # the labels are translated through subjects.public_labels
        register(
            Series(
                f"searches.basis.{basis}",
                "searches",
                format_lazy(_("Searches under {basis}"), basis=_(label)),
                partial(_basis_count, basis=basis),
                group="basis",
            )
        )
    register(
        Series(
            "searches.organisations",
            "searches",
            _("Organisations that searched"),
            lambda p: _searches(p).aggregate(n=Count("organisation", distinct=True))["n"],
        )
    )
    register(
        Series(
            "organisations.customers",
            "searches",
            _("Customer organisations with an account"),
            lambda p: _customer_count(p),
        )
    )

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
    _register_monitoring()
    _register_withholding()


def _customer_count(period: Period) -> int:
    from accounts.models import Organisation

    return Organisation.objects.filter(created_at__lt=period.as_of, is_active=True).count()


def _register_monitoring() -> None:
    """Monitoring alerts (issue 13 §3), once the model exists."""
    try:
        from search.models import MonitoringAlert  # type: ignore[attr-defined]
    except ImportError:
        return
    register(
        Series(
            "monitoring.alerts",
            "searches",
            _("Monitoring alerts raised"),
            lambda p: MonitoringAlert.objects.filter(_in(p, "created_at")).count(),
        )
    )


def _register_withholding() -> None:
    """Organisations' claims that a restriction of the right of access (Art 23) covers a search, and the DPO's
    decisions (issue 22 §4): counted from the audit log in the month they were made."""
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


_register_all()
