"""The public transparency report: the page, its CSV and its JSON. No login; nothing personal."""

from __future__ import annotations

import base64
import io
import re
from datetime import date
from typing import Any
from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from audit import tlog
from audit.models import Checkpoint
from audit.signing import verifier_key
from compliance import transparency as t
from config.csvsafe import csv_writer
from config.errors import ApplicationError

MONTH = re.compile(r"^(\d{4})-(\d{2})$")
CSV_COLUMNS = ["month", "section", "key", "label", "value", "withheld"]

SPARK_BAR = 9
SPARK_GAP = 3
SPARK_HEIGHT = 36
SPARK_TOP = 4


def _month(text: str, available: list[date]) -> date | None:
    match = MONTH.match(text.strip())
    if not match:
        return None
    year, month = int(match[1]), int(match[2])
    if not 1 <= month <= 12:
        return None
    wanted = date(year, month, 1)
    return wanted if wanted in available else None


def _bad_month(request: HttpRequest, available: list[date]) -> HttpResponse:
    message = _(
        "There is no report for that month. Choose a month from %(first)s to %(last)s, written as YYYY-MM."
    ) % {
        "first": f"{available[-1]:%Y-%m}",
        "last": f"{available[0]:%Y-%m}",
    }
    return render(request, "400.html", {"message": message}, status=400)


def _spark(key: str, history: list[t.Report]) -> dict[str, Any] | None:
    """Geometry of a small server-side SVG bar chart of one series over the months shown."""
    points = [(r.period.key, r.by_key()[key]) for r in history]
    if points[-1][1].rule == t.Rule.IDENTIFIER.value:
        return None
    peak = max([f.number or 0 for _m, f in points] + [t.THRESHOLD - 1])
    plot = SPARK_HEIGHT - SPARK_TOP
    bars = []
    for i, (month, figure) in enumerate(points):
        x = i * (SPARK_BAR + SPARK_GAP)
        if figure.number is not None:
            h = max(1, round(plot * float(figure.number) / peak)) if figure.number else 0
            kind = "value"
        elif figure.shown == "—":  # nothing to count (no cases): no mark
            h, kind = 0, "none"
        elif figure.withheld == t.Withheld.SMALL.value:
            h, kind = round(plot * (t.THRESHOLD - 1) / peak), "small"
        else:
            h, kind = 2, "withheld"
        bars.append(
            {
                "x": x,
                "y": SPARK_HEIGHT - h,
                "h": h,
                "w": SPARK_BAR,
                "kind": kind,
                "title": f"{month}: {figure.shown}",
            }
        )
    return {"bars": bars, "width": len(points) * (SPARK_BAR + SPARK_GAP), "height": SPARK_HEIGHT}


@require_GET
def report(request: HttpRequest) -> HttpResponse:
    available = t.months_available()
    month = available[0]
    if "month" in request.GET:
        chosen = _month(request.GET["month"], available)
        if chosen is None:
            return _bad_month(request, available)
        month = chosen
    current = t.report_for(month=month)
    history = t.history(month=month)
    sections = []
    for section in t.SECTIONS:
        rows = [
            {"figure": f, "chart": _spark(f.key, history)}
            for f in current.figures
            if f.section == section.key
        ]
        sections.append({"key": section.key, "title": section.title, "rows": rows})
    context = {
        "report": current,
        "month": month,
        "months": available,
        "sections": sections,
        "chain": t.chain_state(),
        "threshold": t.THRESHOLD,
        "first_chart_month": history[0].period.month,
        "log": _log_state(),
    }
    return render(request, "compliance/transparency.html", context)


def _report_or_404(month_text: str) -> t.Report:
    month = _month(month_text, t.months_available())
    if month is None:
        raise Http404("There is no report for that month.")
    return t.report_for(month=month)


@require_GET
def report_csv(request: HttpRequest, month: str) -> HttpResponse:
    data = _report_or_404(month)
    buffer = io.StringIO()
    writer = csv_writer(buffer)  # formula-safe cells (config/csvsafe.py)
    writer.writerow(CSV_COLUMNS)
    for f in data.figures:
        writer.writerow([data.period.key, f.section, f.key, f.label, f.shown, f.withheld])
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="transparency-{data.period.key}.csv"'
    return response


@require_GET
def report_json(request: HttpRequest, month: str) -> HttpResponse:
    data = _report_or_404(month)
    body = {
        "month": data.period.key,
        "complete": data.period.closed,
        "threshold": t.THRESHOLD,
        "figures": [
            {
                "key": f.key,
                "section": f.section,
                "label": f.label,
                "value": f.shown,
                "number": f.number,
                "withheld": f.withheld,
                "unit": f.unit,
            }
            for f in data.figures
        ],
    }
    response = JsonResponse(body, json_dumps_params={"ensure_ascii": False, "indent": 1})
    response["Content-Disposition"] = f'attachment; filename="transparency-{data.period.key}.json"'
    return response


# --- The transparency log: checkpoint, key, consistency, the in-browser checker --------------------
# Public and login-free like the report. Nothing here shows a leaf's content: only sizes, hashes and
# signed checkpoints.

SIZE_PARAM = re.compile(r"^[0-9]{1,19}$")  # decimal, no sign, at most 19 digits (fits a bigint)
CHECKPOINT_HISTORY = 20


def _text(body: str, *, status: int = 200, cache: str = "no-store") -> HttpResponse:
    response = HttpResponse(body, content_type="text/plain; charset=utf-8", status=status)
    response["Cache-Control"] = cache
    response["Access-Control-Allow-Origin"] = "*"  # public data: any verifier may fetch it
    return response


def _log_error(message: str, code: str, status: int = 400) -> JsonResponse:
    response = JsonResponse(ApplicationError(message, code=code).as_body(), status=status)
    response["Cache-Control"] = "no-store"
    return response


def _no_checkpoint() -> HttpResponse:
    response = _text(
        _("No checkpoint has been published yet. Try again in a minute.") + "\n", status=503
    )
    response["Retry-After"] = "10"
    return response


@require_GET
def log_checkpoint(request: HttpRequest) -> HttpResponse:
    """The latest signed checkpoint (C2SP tlog-checkpoint in a signed note)."""
    latest = tlog.checkpoint_latest()
    if latest is None:
        return _no_checkpoint()
    # A new checkpoint comes every few seconds: caches may hold this one briefly.
    return _text(latest["note"], cache="public, max-age=5")


@require_GET
def log_key(request: HttpRequest) -> HttpResponse:
    """The verifier key of the checkpoints' signatures, in signed-note vkey form."""
    return _text(verifier_key() + "\n", cache="public, max-age=3600")


def _size(request: HttpRequest, name: str) -> int | JsonResponse:
    raw = request.GET.get(name)
    if raw is None or raw == "":
        return _log_error(
            _("Give %(name)s: a tree size, as a whole number.") % {"name": name}, "missing_size"
        )
    if not SIZE_PARAM.match(raw):
        return _log_error(
            _("%(name)s must be a whole number from 0 up, written with digits only.")
            % {"name": name},
            "bad_size",
        )
    return int(raw)


@require_GET
def log_consistency(request: HttpRequest) -> HttpResponse:
    """RFC 9162 consistency proof between two tree sizes, as JSON of base64 hashes."""
    first = _size(request, "from")
    if isinstance(first, HttpResponse):
        return first
    second = _size(request, "to")
    if isinstance(second, HttpResponse):
        return second
    size = tlog.tree_size()
    if second > size:
        return _log_error(
            _("to is larger than the log, which holds %(size)s entries.") % {"size": size},
            "beyond_tree",
        )
    if first < 1:
        return _log_error(_("from must be at least 1: an empty tree has no proof."), "bad_size")
    if first > second:
        return _log_error(_("from must not be larger than to."), "bad_range")
    response = JsonResponse(tlog.consistency(first, second))
    # The proof between two fixed sizes never changes.
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_GET
def log_verify(request: HttpRequest) -> HttpResponse:
    """The in-browser checker: the proof stays in the browser (pasted, or after the '#')."""
    return render(request, "compliance/log_verify.html", {})


def _log_state() -> dict[str, Any]:
    """The latest checkpoint and the ones before it, each with its consistency link to the previous."""
    rows = list(Checkpoint.objects.order_by("-tree_size")[: CHECKPOINT_HISTORY + 1])  # newest first
    latest = rows[0] if rows else None
    history = []
    for newer, older in zip(rows, [*rows[1:], None], strict=False):
        link = ""
        if older is not None and 0 < older.tree_size < newer.tree_size:
            link = (
                reverse("transparency:log_consistency")
                + "?"
                + urlencode({"from": older.tree_size, "to": newer.tree_size})
            )
        history.append({"checkpoint": newer, "root": _b64(newer.root_hash), "consistency": link})
    return {
        "latest": latest,
        "root": _b64(latest.root_hash) if latest else "",
        "history": history[:CHECKPOINT_HISTORY],
    }


def _b64(value: bytes | memoryview | str) -> str:
    raw = bytes.fromhex(value) if isinstance(value, str) else bytes(value)
    return base64.b64encode(raw).decode()
