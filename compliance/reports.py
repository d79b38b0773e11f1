"""Reports generated from live configuration: the Art 30 record and the DPO/auditor dashboard."""

from __future__ import annotations

import math
from collections import Counter
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count
from django.db.models.functions import TruncWeek
from django.utils import timezone

from compliance.models import Dpia, RetentionPolicy, SweepReceipt
from compliance.retention import retention_backlog

SECURITY_MEASURES = [
    "Two-factor authentication (TOTP) required for staff and customer org admins; failed logins rate-limited.",
    "Every action on personal data written to an append-only, hash-chained audit log, verified daily against "
    "anchors kept outside the database.",
    "Embeddings and face crops stored apart from metadata, never logged, never exported to customers.",
    "Probe photos deleted as soon as they are embedded; probe embeddings kept for a limited period.",
    "Customer data scoped per organisation; every search needs a purpose, a lawful basis and a case reference.",
    "Retention enforced by daily sweeps with receipts; legal holds block deletion.",
    "TLS in production (HSTS), secure cookies, Content-Security-Policy, clickjacking protection.",
]


def art30_record() -> dict[str, Any]:
    """The record of processing activities (Art 30(1)), from what the system is configured to do."""
    from accounts.models import Organisation
    from search.models import LawfulBasis

    return {
        "generated_at": timezone.now(),
        "controller": {
            "name": settings.CONTROLLER_NAME,
            "address": settings.CONTROLLER_ADDRESS,
            "dpo": settings.DPO_EMAIL,
        },
        "purposes": [
            {
                "purpose": "Face search for customer organisations' stated cases",
                "lawful_bases": [label for _, label in LawfulBasis.choices],
                "art9_condition": "Recorded per source (crawl approval) and per customer contract",
            },
            {
                "purpose": "Answering data-subject requests (access, erasure, objection, restriction, rectification)",
                "lawful_bases": ["Legal obligation (Art 6(1)(c))"],
                "art9_condition": "Art 9(2)(f) / (g) as applicable",
            },
            {
                "purpose": "Security and accountability (audit log)",
                "lawful_bases": [
                    "Legal obligation (Art 6(1)(c))",
                    "Legitimate interests (Art 6(1)(f))",
                ],
                "art9_condition": "—",
            },
        ],
        "data_categories": [
            "Photos from approved sources, with page and image URLs and dates (provenance)",
            "Face crops and biometric templates (embeddings) derived from them (special category, Art 9)",
            "Customer accounts: name, email, organisation, role; searches with purpose, basis and case reference",
            "Data-subject requests: email address, request details, correspondence",
        ],
        "subject_categories": [
            "People whose faces appear in photos at approved sources",
            "Customer staff (analysts, org admins)",
            "People who file data-subject requests",
        ],
        "recipients": {
            "customer_organisations": list(
                Organisation.objects.filter(is_active=True).values_list("name", flat=True)
            ),
            "note": "Customers receive face crops, similarity and source links in search results; never embeddings.",
        },
        "transfers": settings.INTERNATIONAL_TRANSFERS,
        "retention": list(RetentionPolicy.objects.all()),
        "excluded_jurisdictions": settings.EXCLUDED_JURISDICTIONS,
        "sources": _art30_sources(),
        "security_measures": SECURITY_MEASURES,
        "dpias": list(Dpia.objects.all()),
    }


def _art30_sources() -> list[dict[str, Any]]:
    """Every source holding photos or approved to collect them, with its declarations; then photos no source covers."""
    from crawling.selectors import sources_with_data, undeclared_labels

    rows: list[dict[str, Any]] = [
        {
            "name": s.name,
            "kind": s.get_kind_display(),
            "scope": s.scope,
            "jurisdictions": s.jurisdictions,
            "lawful_basis": s.get_lawful_basis_display(),
            "art9_condition": s.get_art9_condition_display(),
            "dpia": s.dpia_reference,
            "status": s.get_status_display(),
            "images": s.images_count,
        }  # type: ignore[attr-defined]
        for s in sources_with_data()
    ]
    rows += [
        {
            "name": u.name,
            "kind": "Undeclared (stored before imports needed a source)",
            "scope": [],
            "jurisdictions": [],
            "lawful_basis": "",
            "art9_condition": "",
            "dpia": "",
            "status": "Needs a declared source",
            "images": u.images,
        }
        for u in undeclared_labels()
    ]
    return rows


def _nice_scale(peak: int, *, max_ticks: int = 5) -> tuple[int, int]:
    """(axis maximum, tick step): a 1-2-5 step so the axis ends at or above ``peak``."""
    if peak <= 0:
        return 1, 1
    magnitude = 1
    while True:
        for factor in (1, 2, 5):
            step = factor * magnitude
            if peak / step <= max_ticks:
                return step * math.ceil(peak / step), step
        magnitude *= 10


def _short(label: str, limit: int) -> str:
    return label if len(label) <= limit else label[: limit - 1].rstrip() + "…"


CHART_WIDTH = 680
CHART_LABEL_WIDTH = 220  # label column, left of the bars
CHART_RIGHT_PAD = 56  # room for the value printed after the longest bar
CHART_ROW = 30
CHART_BAR = 18  # bar thickness is fixed: one bar never fills the chart
CHART_TOP = 8
CHART_AXIS = 26
CHART_LABEL_CHARS = 32


def _bars(series: list[tuple[str, int]]) -> dict[str, Any]:
    """Geometry for a horizontal SVG bar chart (rendered server-side, no script).

    Labels sit in their own column beside the bars (never overlapping), the value axis has a
    rounded maximum with ticks, and every value is printed inside the drawing area.
    """
    x0 = CHART_LABEL_WIDTH
    plot = CHART_WIDTH - CHART_LABEL_WIDTH - CHART_RIGHT_PAD
    axis_max, step = _nice_scale(max((v for _, v in series), default=0))
    base = CHART_TOP + CHART_ROW * max(1, len(series))
    bars = []
    for i, (label, value) in enumerate(series):
        w = round(plot * value / axis_max)
        y = CHART_TOP + i * CHART_ROW + (CHART_ROW - CHART_BAR) // 2
        bars.append(
            {
                "x": x0,
                "y": y,
                "w": w,
                "h": CHART_BAR,
                "label": label,
                "short": _short(label, CHART_LABEL_CHARS),
                "value": value,
                "ty": y + CHART_BAR // 2 + 4,
                "vx": x0 + w + 6,
            }
        )
    ticks = [
        {"x": x0 + round(plot * v / axis_max), "value": v} for v in range(0, axis_max + 1, step)
    ]
    return {
        "bars": bars,
        "ticks": ticks,
        "width": CHART_WIDTH,
        "height": base + CHART_AXIS,
        "x0": x0,
        "top": CHART_TOP,
        "base": base,
        "label_x": x0 - 8,
        "tick_y": base + 16,
        "empty": not series,
    }


def dashboard_data() -> dict[str, Any]:
    from accounts.models import Organisation
    from search.models import SearchRequest

    since = timezone.now() - timedelta(weeks=8)
    weekly = (
        SearchRequest.objects.filter(created_at__gte=since)
        .annotate(week=TruncWeek("created_at"))
        .values("week", "organisation")
        .annotate(n=Count("id"))
        .order_by("week")
    )
    names = dict(Organisation.objects.values_list("id", "name"))
    per_org: dict[str, list[tuple[str, int]]] = {}
    weeks = sorted({row["week"] for row in weekly})
    for org_id in sorted({row["organisation"] for row in weekly}):
        counts = {row["week"]: row["n"] for row in weekly if row["organisation"] == org_id}
        per_org[names.get(org_id, str(org_id))] = [(f"{w:%d %b}", counts.get(w, 0)) for w in weeks]
    backlog = retention_backlog()
    from subjects.models import RequestType, SubjectRequest

    requests = list(
        SubjectRequest.objects.values("type", "status", "due_date", "completed_at", "extended")
    )
    by_type = Counter(r["type"] for r in requests)
    by_status = Counter(r["status"] for r in requests)
    closed = [
        r
        for r in requests
        if r["completed_at"] is not None and r["status"] in ("completed", "denied")
    ]
    on_time = sum(1 for r in closed if timezone.localdate(r["completed_at"]) <= r["due_date"])
    overdue = [
        r
        for r in SubjectRequest.objects.exclude(
            status__in=["completed", "denied", "withdrawn", "lapsed"]
        )
        if r.is_overdue
    ]
    return {
        "requests_by_type": _bars(sorted((_label(RequestType, k), v) for k, v in by_type.items())),
        "requests_by_status": _bars(
            sorted((_label(SubjectRequest.Status, k), v) for k, v in by_status.items())
        ),
        "requests_total": len(requests),
        "on_time_rate": round(100 * on_time / len(closed)) if closed else None,
        "extended": sum(1 for r in requests if r["extended"]),
        "overdue": overdue,
        "search_charts": {org: _bars(series) for org, series in per_org.items()},
        "backlog_chart": _bars([(k.replace("_", " "), v) for k, v in backlog.items()]),
        "backlog": backlog,
        "sweeps": SweepReceipt.objects.all()[:10],
        "searches_total": SearchRequest.objects.filter(created_at__gte=since).count(),
        "monitoring": _monitoring_summary(since=since),
    }


def _monitoring_summary(*, since: Any) -> dict[str, int]:
    """Monitoring alerts (docs/monitoring.md): open now, and raised in the dashboard's period."""
    from search.monitoring import monitoring_alert_count, monitoring_alert_list

    return {
        "open": monitoring_alert_list().count(),
        "raised": monitoring_alert_count(since=since, until=timezone.now() + timedelta(seconds=1)),
    }


OPEN_REQUEST_EXCLUDED = ("completed", "denied", "withdrawn", "lapsed")
DUE_SOON_DAYS = 7


def staff_home_data(*, user: Any) -> dict[str, Any]:
    """What each staff role checks first: the DPO's deadlines and pending sources, the auditor's
    chain check and recent exports, the admin's counts. Only what ``user`` may see."""
    from compliance.models import AuditEvent
    from compliance.selectors import audit_anchor_list, audit_chain_verify
    from crawling.models import Source
    from subjects.models import SubjectRequest

    data: dict[str, Any] = {}
    if user.has_perm("accounts.work_subject_requests"):
        today = timezone.localdate()
        open_requests = SubjectRequest.objects.exclude(status__in=OPEN_REQUEST_EXCLUDED).order_by(
            "due_date"
        )
        waiting = open_requests.exclude(status=SubjectRequest.Status.AWAITING_CLARIFICATION)
        data["dpo"] = {
            "open": open_requests.count(),
            "overdue": list(waiting.filter(due_date__lt=today)[:10]),
            "overdue_count": waiting.filter(due_date__lt=today).count(),
            "due_soon": list(
                waiting.filter(
                    due_date__gte=today, due_date__lte=today + timedelta(days=DUE_SOON_DAYS)
                )[:10]
            ),
            "due_soon_days": DUE_SOON_DAYS,
            "awaiting_reply": open_requests.filter(
                status=SubjectRequest.Status.AWAITING_CLARIFICATION
            ).count(),
        }
    if user.has_perm("accounts.dpo_access"):
        from search.monitoring import monitoring_alert_list

        open_alerts = monitoring_alert_list()
        data["monitoring"] = {"open_count": open_alerts.count(), "open": list(open_alerts[:10])}
    if user.has_perm("accounts.approve_sources"):
        data["sources_pending"] = list(
            Source.objects.filter(status=Source.Status.PROPOSED).order_by("created_at")[:10]
        )
    if user.has_perm("accounts.auditor_access"):
        # Recomputes the whole chain: shown to auditors (and admins), whose page this is.
        anchors = audit_anchor_list()
        data["auditor"] = {
            "chain": audit_chain_verify(),
            "last_anchor_at": _anchor_time(anchors[-1]) if anchors else None,
            "exports": list(
                AuditEvent.objects.filter(action="compliance.audit_log.exported").order_by("-seq")[
                    :5
                ]
            ),
        }
    if user.is_staff:
        from accounts.models import Organisation, User
        from search.models import Face, SourceImage

        data["admin"] = [
            (
                "Organisations",
                Organisation.objects.count(),
                "admin:accounts_organisation_changelist",
            ),
            ("Users", User.objects.count(), "admin:accounts_user_changelist"),
            ("Sources", Source.objects.count(), "admin:crawling_source_changelist"),
            ("Photos indexed", SourceImage.objects.count(), "admin:search_sourceimage_changelist"),
            ("Faces", Face.objects.count(), "admin:search_face_changelist"),
            (
                "Open subject requests",
                SubjectRequest.objects.exclude(status__in=OPEN_REQUEST_EXCLUDED).count(),
                "admin:subjects_subjectrequest_changelist",
            ),
        ]
    return data


def _anchor_time(anchor: dict[str, Any]) -> Any:
    from datetime import datetime

    try:
        return datetime.fromisoformat(str(anchor.get("at")))
    except ValueError:
        return None


def _label(choices: Any, value: str) -> str:
    """A choice's human label (falls back to the stored value)."""
    try:
        return str(choices(value).label)
    except ValueError:
        return value.replace("_", " ")
