"""Registries the apps fill in from ``AppConfig.ready()``, read by the app that runs them.

Compliance runs the retention sweeps, but each app knows how to sweep its own data: it registers a
``RetentionSweeper`` per data class (the way pretix's plugins register data shredders), instead of
compliance naming its functions by dotted strings. What a legal hold covers is answered by one
registered provider, so that a lower app's deletions can respect holds without importing
compliance. Pure: no model is imported here. The transparency figures' registry is
``config.figures``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Named entries in registration order; a name is registered once."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._entries: dict[str, T] = {}

    def register(self, name: str, entry: T) -> T:
        if name in self._entries:
            raise ValueError(f"{self.what} {name!r} is already registered")
        self._entries[name] = entry
        return entry

    def get(self, name: str) -> T | None:
        return self._entries.get(name)

    def __getitem__(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            raise LookupError(f"no {self.what} {name!r} is registered") from None

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def items(self) -> list[tuple[str, T]]:
        return list(self._entries.items())


# --- retention ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActiveHolds:
    """What the legal holds in force cover: never deleted or anonymised while they last."""

    organisation_ids: frozenset[int] = frozenset()
    source_labels: frozenset[str] = frozenset()
    face_ids: frozenset[int] = frozenset()
    request_references: frozenset[str] = frozenset()


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


@dataclass(frozen=True)
class RetentionSweeper:
    """How one data class is swept: ``sweep(*, cutoff, action, holds, chunk_size) -> SweepOutcome``
    applies the policy; ``backlog(*, data_class, cutoff) -> int`` counts what the next sweep takes."""

    sweep: Callable[..., SweepOutcome]
    backlog: Callable[..., int]


retention_sweepers: Registry[RetentionSweeper] = Registry("retention sweeper")
# The purge of excluded jurisdictions: ``purge(*, codes, holds, chunk_size) -> SweepOutcome``.
jurisdiction_purgers: Registry[Callable[..., SweepOutcome]] = Registry("jurisdiction purger")
# Who answers "what do the legal holds cover now": ``() -> ActiveHolds`` (compliance registers it).
holds_providers: Registry[Callable[[], ActiveHolds]] = Registry("holds provider")


# The retention policies in force, for pages that state them: ``() -> iterable of policies`` with
# ``data_class``, ``period_days``, ``action``, ``reason`` (compliance registers its model's rows).
policy_providers: Registry[Callable[[], Any]] = Registry("retention policy provider")


def retention_policies() -> Any:
    """The retention policies, from the registered provider (compliance's RetentionPolicy rows)."""
    return policy_providers["retention_policies"]()


def retention_sweeper_register(
    data_class: str, *, sweep: Callable[..., Any], backlog: Callable[..., int]
) -> None:
    """Called from an app's ``ready()`` for each data class it stores."""
    retention_sweepers.register(data_class, RetentionSweeper(sweep=sweep, backlog=backlog))


def active_holds() -> ActiveHolds:
    """The legal holds in force, from the registered provider. None registered is a wiring error:
    answering "nothing is held" would let a deletion take what a hold protects."""
    return holds_providers["legal_holds"]()
