"""The accessibility gate: axe-core runs on every page a browser journey visits.

axe-core itself comes from the ``axe-playwright-python`` wheel (its ``axe.min.js``, no CDN). The
gate runs axe when a page has loaded (Playwright's ``load`` event, handled while the test goes on)
and again, deterministically, whenever the journey records a step or leaves by ``goto``; each
document is judged once (the page keeps the promise of its run). The page the journey ends on is
checked at teardown. A page left before axe finished on it is listed as unchecked in the report.
Violations whose impact is serious or critical fail the test at teardown, naming the rule, its
impact, the page and the offending elements.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from axe_playwright_python.base import AXE_SCRIPT

# The impacts that fail a journey; minor and moderate findings are left to review.
GATED = ("serious", "critical")
# How many offending elements a report lists per rule and page.
SHOWN_TARGETS = 5

# One run per document: a second caller (the load handler and a step at once) shares the first.
RUN_AXE = """async () => {
  window.__axeRun = window.__axeRun || axe.run(document, {resultTypes: ['violations']})
    .then(results => results.violations.map(v => ({
      id: v.id, impact: v.impact, help: v.help,
      targets: v.nodes.map(n => n.target.join(' ')),
    })));
  return await window.__axeRun;
}"""


@dataclass(frozen=True)
class Violation:
    rule: str
    impact: str
    help: str
    url: str
    targets: tuple[str, ...]

    def __str__(self) -> str:
        shown = ", ".join(self.targets[:SHOWN_TARGETS])
        more = len(self.targets) - SHOWN_TARGETS
        if more > 0:
            shown += f" and {more} more"
        return f"{self.rule} ({self.impact}) on {self.url}: {self.help} [{shown}]"


def public_url(url: str) -> str:
    """The page's address without long tokens (status and capture links carry secrets)."""
    return re.sub(r"/[\w-]{20,}", "/…", url)


@dataclass
class AxeGate:
    """What axe found on the pages of one journey."""

    violations: list[Violation] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)

    def watch(self, page: Any) -> None:
        """Check each document ``page`` loads, as soon as it has loaded."""
        page.on("load", lambda loaded: self.loaded(loaded))

    def loaded(self, page: Any) -> None:
        url = page.url
        try:
            self.check(page)
        except Exception:  # noqa: BLE001 - the journey moved on (or closed) while axe ran
            if not page.is_closed() and url.startswith("http"):
                self.unchecked.append(public_url(url))

    def check(self, page: Any) -> list[Violation]:
        """Run axe on the document ``page`` shows now; returns the serious and critical findings."""
        if page.is_closed() or not page.url.startswith("http"):
            return []  # about:blank before the first visit, a closed tab, a browser error page
        url = public_url(page.url)
        if not page.evaluate("typeof window.axe === 'object'"):
            page.evaluate(AXE_SCRIPT)
        found = page.evaluate(RUN_AXE)
        self.checked.append(url)
        new = [
            Violation(f["id"], f["impact"], f["help"], url, tuple(f["targets"]))
            for f in found
            if f["impact"] in GATED
        ]
        for violation in new:
            if violation not in self.violations:
                self.violations.append(violation)
        return new

    def report(self) -> str:
        pages = len(set(self.checked))
        lines = [f"axe-core found {len(self.violations)} serious or critical violations:"]
        lines += [f"  {v}" for v in self.violations]
        lines.append(f"({len(self.checked)} checks on {pages} pages)")
        if self.unchecked:
            lines.append(f"left before axe finished: {', '.join(self.unchecked)}")
        return "\n".join(lines)

    def assert_clean(self) -> None:
        assert not self.violations, self.report()


def assert_accessible(gates: dict[str, AxeGate]) -> None:
    """Fails listing every journey whose pages had serious or critical violations."""
    failed = [f"Journey {name}: {gate.report()}" for name, gate in gates.items() if gate.violations]
    assert not failed, "\n".join(failed)
