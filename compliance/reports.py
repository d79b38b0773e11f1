"""Reports generated from live configuration: the Art 30 record and the DPO/auditor dashboard."""

from __future__ import annotations

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
        "controller": {"name": settings.CONTROLLER_NAME, "address": settings.CONTROLLER_ADDRESS, "dpo": settings.DPO_EMAIL},
        "purposes": [
            {"purpose": "Face search for customer organisations' stated cases",
             "lawful_bases": [label for _, label in LawfulBasis.choices],
             "art9_condition": "Recorded per source (crawl approval) and per customer contract"},
            {"purpose": "Answering data-subject requests (access, erasure, objection, restriction, rectification)",
             "lawful_bases": ["Legal obligation (Art 6(1)(c))"], "art9_condition": "Art 9(2)(f) / (g) as applicable"},
            {"purpose": "Security and accountability (audit log)",
             "lawful_bases": ["Legal obligation (Art 6(1)(c))", "Legitimate interests (Art 6(1)(f))"], "art9_condition": "—"},
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
            "customer_organisations": list(Organisation.objects.filter(is_active=True).values_list("name", flat=True)),
            "note": "Customers receive face crops, similarity and source links in search results; never embeddings.",
        },
        "transfers": settings.INTERNATIONAL_TRANSFERS,
        "retention": list(RetentionPolicy.objects.all()),
        "excluded_jurisdictions": settings.EXCLUDED_JURISDICTIONS,
        "sources": _art30_sources(),
        "security_measures": SECURITY_MEASURES,
        "dpias": list(Dpia.objects.all()),
    }  # fmt: skip


def _art30_sources() -> list[dict[str, Any]]:
    """Every source holding photos or approved to collect them, with its declarations; then photos no source covers."""
    from crawling.selectors import sources_with_data, undeclared_labels

    rows: list[dict[str, Any]] = [
        {"name": s.name, "kind": s.get_kind_display(), "scope": s.scope, "jurisdictions": s.jurisdictions,
         "lawful_basis": s.get_lawful_basis_display(), "art9_condition": s.get_art9_condition_display(),
         "dpia": s.dpia_reference, "status": s.get_status_display(), "images": s.images_count}  # type: ignore[attr-defined]
        for s in sources_with_data()
    ]  # fmt: skip
    rows += [
        {"name": u.name, "kind": "Undeclared (stored before imports needed a source)", "scope": [], "jurisdictions": [],
         "lawful_basis": "", "art9_condition": "", "dpia": "", "status": "Needs a declared source", "images": u.images}
        for u in undeclared_labels()
    ]  # fmt: skip
    return rows


def _bars(series: list[tuple[str, int]], *, width: int = 560, height: int = 160) -> dict[str, Any]:
    """Geometry for a plain SVG bar chart (rendered server-side, no script)."""
    peak = max((v for _, v in series), default=0) or 1
    slot = width / max(1, len(series))
    bars = []
    for i, (label, value) in enumerate(series):
        h = round((height - 20) * value / peak)
        bars.append({"x": round(i * slot + slot * 0.15), "y": height - 20 - h, "w": round(slot * 0.7), "h": h,
                     "label": label, "value": value, "tx": round(i * slot + slot / 2)})  # fmt: skip
    return {"bars": bars, "width": width, "height": height, "base": height - 20}


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
    from subjects.models import SubjectRequest

    requests = list(SubjectRequest.objects.values("type", "status", "due_date", "completed_at", "extended"))
    by_type = Counter(r["type"] for r in requests)
    by_status = Counter(r["status"] for r in requests)
    closed = [r for r in requests if r["completed_at"] is not None and r["status"] in ("completed", "denied")]
    on_time = sum(1 for r in closed if timezone.localdate(r["completed_at"]) <= r["due_date"])
    overdue = [
        r for r in SubjectRequest.objects.exclude(status__in=["completed", "denied", "withdrawn", "lapsed"]) if r.is_overdue
    ]
    return {
        "requests_by_type": _bars(sorted(by_type.items())),
        "requests_by_status": _bars(sorted(by_status.items())),
        "requests_total": len(requests),
        "on_time_rate": round(100 * on_time / len(closed)) if closed else None,
        "extended": sum(1 for r in requests if r["extended"]),
        "overdue": overdue,
        "search_charts": {org: _bars(series) for org, series in per_org.items()},
        "backlog_chart": _bars([(k.replace("_", " "), v) for k, v in backlog.items()]),
        "backlog": backlog,
        "sweeps": SweepReceipt.objects.all()[:10],
        "searches_total": SearchRequest.objects.filter(created_at__gte=since).count(),
    }
