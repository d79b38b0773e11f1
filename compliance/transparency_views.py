"""The public transparency report: the page, its CSV and its JSON. No login; nothing personal."""

from __future__ import annotations

import io
import re
from datetime import date
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from compliance import transparency as t
from config.csvsafe import csv_writer

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
