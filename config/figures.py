"""The transparency report's figure registry: each app registers the series it counts.

An app's ``figures.py`` defines its series and registers them from its ``AppConfig.ready()``, the
way pretix's plugins register data shredders; ``compliance.transparency`` reads ``SERIES``,
applies the suppression rules and publishes. Pure: no model is imported here.
"""

from __future__ import annotations

import calendar
import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Q
from django.utils import timezone
from django.utils.functional import Promise


class Rule(enum.Enum):
    COUNT = "count"  # rule 1 (and 2 within its group)
    DERIVED = "derived"  # rule 3: needs ``base`` (the count of cases it is computed from)
    RUNNING_TOTAL = "running_total"  # rule 4
    EXACT = "exact"  # rule 5: our own decisions and runs
    IDENTIFIER = "identifier"  # rule 5: sequence numbers and hashes (no chart)


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


def in_period(period: Period, field_name: str) -> Q:
    """Rows whose ``field_name`` falls within the month."""
    return Q(**{f"{field_name}__gte": period.start, f"{field_name}__lt": period.end})
