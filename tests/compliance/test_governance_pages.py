"""DPO and auditor pages: retention policies, legal holds, receipts, Art 30 record, dashboard."""

from __future__ import annotations

import itertools

import pytest
from django.urls import reverse

from compliance import retention
from compliance.models import AuditEvent, Dpia, LegalHold, RetentionPolicy

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _policies():
    retention.retention_policies_ensure()


def test_dpo_changes_a_policy_and_it_is_audited(client, dpo):
    client.force_login(dpo)
    policy = RetentionPolicy.objects.get(data_class="faces")
    assert client.get(reverse("compliance:retention")).status_code == 200
    response = client.post(
        reverse("compliance:retention_edit", args=[policy.pk]),
        {"period_days": 180, "action": "delete", "reason": "Shorter after the 2026 DPIA review."},
    )
    assert response.status_code == 302
    policy.refresh_from_db()
    assert policy.period_days == 180 and policy.updated_by == dpo
    event = AuditEvent.objects.get(action="compliance.retention_policy.changed")
    assert (
        event.details["before"]["period_days"] == 365
        and event.details["after"]["period_days"] == 180
    )


@pytest.mark.parametrize(
    ("data", "label"),
    [
        ({"period_days": -1, "action": "delete", "reason": "x"}, "negative period"),
        ({"period_days": 10, "action": "shred", "reason": "x"}, "unknown action"),
        ({"period_days": 10, "action": "delete", "reason": ""}, "no reason"),
    ],
)
def test_malformed_policy_edits_are_refused(client, dpo, data, label):
    client.force_login(dpo)
    policy = RetentionPolicy.objects.get(data_class="faces")
    assert (
        client.post(reverse("compliance:retention_edit", args=[policy.pk]), data).status_code == 400
    ), label
    policy.refresh_from_db()
    assert policy.period_days == 365


def test_audit_events_can_only_be_anonymised(client, dpo):
    client.force_login(dpo)
    policy = RetentionPolicy.objects.get(data_class="audit_events")
    response = client.post(
        reverse("compliance:retention_edit", args=[policy.pk]),
        {"period_days": 10, "action": "delete", "reason": "space"},
    )
    assert response.status_code == 400 and b"never deleted" in response.content
    assert RetentionPolicy.objects.get(pk=policy.pk).action == "anonymise"


def test_dpo_places_and_releases_a_legal_hold(client, dpo, org):
    client.force_login(dpo)
    bad = client.post(
        reverse("compliance:legal_holds"), {"scope": "organisation", "reason": "litigation"}
    )
    assert bad.status_code == 400 and not LegalHold.objects.exists()
    ok = client.post(
        reverse("compliance:legal_holds"),
        {"scope": "organisation", "organisation": org.pk, "reason": "litigation"},
    )
    assert ok.status_code == 302
    hold = LegalHold.objects.get()
    assert client.post(reverse("compliance:legal_hold_release", args=[hold.pk])).status_code == 302
    hold.refresh_from_db()
    assert hold.released_by == dpo
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"compliance.legal_hold.placed", "compliance.legal_hold.released"} <= actions


def test_auditor_reads_but_cannot_change_anything(client, auditor, org):
    client.force_login(auditor)
    policy = RetentionPolicy.objects.get(data_class="faces")
    for name in ("retention", "receipts", "legal_holds", "art30", "dashboard"):
        assert client.get(reverse(f"compliance:{name}")).status_code == 200, name
    assert client.get(reverse("compliance:retention_edit", args=[policy.pk])).status_code == 403
    assert (
        client.post(
            reverse("compliance:retention_edit", args=[policy.pk]),
            {"period_days": 1, "action": "delete", "reason": "x"},
        ).status_code
        == 403
    )
    assert (
        client.post(
            reverse("compliance:legal_holds"),
            {"scope": "organisation", "organisation": org.pk, "reason": "x"},
        ).status_code
        == 403
    )
    assert client.post(reverse("compliance:sweep_now"), {"kind": "retention"}).status_code == 403
    hold = LegalHold.objects.create(scope="organisation", organisation=org, reason="x")
    assert client.post(reverse("compliance:legal_hold_release", args=[hold.pk])).status_code == 403
    assert RetentionPolicy.objects.get(pk=policy.pk).period_days == 365
    assert LegalHold.objects.get(pk=hold.pk).released_at is None


def test_customers_get_403_on_governance_pages(client, owner):
    client.force_login(owner)
    for name in ("retention", "receipts", "legal_holds", "art30", "dashboard"):
        assert client.get(reverse(f"compliance:{name}")).status_code == 403, name


def test_art30_record_reflects_live_configuration(client, auditor, org, settings):
    settings.EXCLUDED_JURISDICTIONS = ["GB", "IT"]
    Dpia.objects.create(reference="DPIA-7", title="Face search", scope="all", status="approved")
    RetentionPolicy.objects.filter(data_class="faces").update(period_days=200)
    client.force_login(auditor)
    page = client.get(reverse("compliance:art30")).content.decode()
    for expected in (
        "Acme Investigations",
        "DPIA-7",
        "GB, IT",
        "200 days",
        "Legitimate interests",
        "Two-factor",
    ):
        assert expected in page, expected


def test_dashboard_charts_searches_per_organisation(client, dpo, teammate):
    from search.models import SearchRequest

    for _ in range(3):
        SearchRequest.objects.create(
            organisation=teammate.membership.organisation,
            user=teammate,
            purpose="p",
            lawful_basis="public_task",
            case_reference="c",
        )
    client.force_login(dpo)
    page = client.get(reverse("compliance:dashboard")).content.decode()
    assert "<svg" in page and "Acme Investigations" in page
    assert "3 searches in the last eight weeks" in page


def test_dashboard_shows_subject_requests_and_on_time_rate(client, auditor):
    from datetime import timedelta

    from django.utils import timezone

    from subjects.models import SubjectRequest

    today = timezone.localdate()
    common = {"email": "x@example.net", "status_token_hash": "-", "original_due_date": today}
    SubjectRequest.objects.create(
        reference="R-1",
        type="erasure",
        status="completed",
        due_date=today,
        completed_at=timezone.now() - timedelta(days=1),
        **common,
    )
    SubjectRequest.objects.create(
        reference="R-2",
        type="access",
        status="in_review",
        due_date=today - timedelta(days=3),
        **common,
    )
    client.force_login(auditor)
    page = client.get(reverse("compliance:dashboard")).content.decode()
    assert "2 requests" in page and "answered on time: 100 %" in page and "overdue now: 1" in page
    assert "R-2" in page


@pytest.mark.parametrize(
    "series",
    [
        [("one week", 1)],
        [("a", 0), ("b", 0)],
        [
            ("expired access packages", 7),
            ("subject request records and their selfies", 1234),
            ("x", 3),
        ],
        [(f"{d:02d} Nov", d * 97) for d in range(1, 9)],
    ],
    ids=["single-bar", "all-zero", "long-labels-and-big-values", "eight-weeks"],
)
def test_chart_geometry_keeps_bars_values_and_labels_inside(series):
    """Bad input: one bar (used to fill the whole width), zeros, labels longer than the label column."""
    from compliance.reports import CHART_BAR, CHART_LABEL_CHARS, CHART_RIGHT_PAD, _bars

    chart = _bars(series)
    assert chart["ticks"][-1]["value"] >= max(v for _, v in series)
    assert chart["ticks"][0]["x"] == chart["x0"]
    plot_end = chart["width"] - CHART_RIGHT_PAD
    for bar in chart["bars"]:
        assert bar["h"] == CHART_BAR, "bar thickness is fixed"
        assert chart["x0"] <= bar["x"] + bar["w"] <= plot_end
        # The value after the bar (at most 6 digits of ~7 px) stays inside the drawing.
        assert bar["vx"] + 7 * len(str(bar["value"])) <= chart["width"]
        assert chart["top"] <= bar["y"] and bar["y"] + bar["h"] <= chart["base"]
        assert len(bar["short"]) <= CHART_LABEL_CHARS
    rows = [b["y"] for b in chart["bars"]]
    assert all(b - a >= CHART_BAR for a, b in itertools.pairwise(rows)), "rows overlap"


def test_dashboard_status_labels_are_words_not_codes(client, auditor):
    from django.utils import timezone

    from subjects.models import SubjectRequest

    today = timezone.localdate()
    SubjectRequest.objects.create(
        reference="R-9",
        type="erasure",
        status="awaiting_verification",
        due_date=today,
        email="x@example.net",
        status_token_hash="-",
        original_due_date=today,
    )
    client.force_login(auditor)
    page = client.get(reverse("compliance:dashboard")).content.decode()
    assert "Waiting for email confirmation" in page
    assert ">awaiting_verification<" not in page


def _request(reference: str, due_in_days: int, status: str = "in_review"):
    from datetime import timedelta

    from django.utils import timezone

    from subjects.models import SubjectRequest

    today = timezone.localdate()
    return SubjectRequest.objects.create(
        reference=reference,
        type="access",
        status=status,
        due_date=today + timedelta(days=due_in_days),
        email="p@example.net",
        status_token_hash="-",
        original_due_date=today,
    )


def test_dpo_home_shows_overdue_due_soon_and_pending_sources(client, dpo):
    from crawling.models import Source

    _request("R-LATE", -2)
    _request("R-SOON", 3)
    _request("R-LATER", 25)
    Source.objects.create(
        name="Pending press site",
        scope=["https://press.example/"],
        lawful_basis="legitimate_interests",
        art9_condition="made_public",
        dpia_reference="DPIA-1",
    )
    client.force_login(dpo)
    for url in (reverse("home"), reverse("compliance:staff_home")):
        page = client.get(url).content.decode()
        assert "Go to the staff pages" not in page
        assert "R-LATE" in page and "(overdue)" in page
        assert "R-SOON" in page
        assert "R-LATER" not in page, "only what is due within a week"
        assert "Pending press site" in page


def test_auditor_home_shows_chain_check_and_recent_exports(client, auditor):
    client.force_login(auditor)
    assert client.get(reverse("compliance:audit_export") + "?format=csv").status_code == 200
    page = client.get(reverse("home")).content.decode()
    assert "Chain verified just now" in page
    assert "No export yet" not in page
    assert "Requests due" not in page, "the auditor does not work requests"


def test_admin_home_shows_counts_and_links(client):
    from tests.accounts import factories

    admin = factories.user(email="root@facesearch.example", is_staff=True, is_superuser=True)
    factories.with_totp(admin)
    client.force_login(admin)
    page = client.get(reverse("home")).content.decode()
    assert "Open Django admin" in page
    assert "/admin/accounts/organisation/" in page and "Photos indexed" in page
