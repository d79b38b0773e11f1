"""Auditor pages: read-only, filtered, streamed exports that are themselves audited."""

from __future__ import annotations

import csv
import io
import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.http import StreamingHttpResponse
from django.urls import reverse

from compliance import services
from compliance.models import AuditEvent

pytestmark = pytest.mark.django_db


EXPORT_ROWS = 20_003


def _bulk_events(n: int) -> None:
    """Many rows fast, for export volume: chained batch appends (rows inserted any other way would
    collide with the sequence numbers the chain head hands out)."""
    for start in range(0, n, 10_000):
        services.audit_record_many(
            entries=[
                services.AuditEntry(
                    actor=None,
                    action="tests.bulk.row",
                    target=None,
                    outcome="success",
                    details={"i": i},
                )
                for i in range(start, min(n, start + 10_000))
            ]
        )


def test_auditor_filters_the_log(client, auditor, owner):
    services.audit_record(
        actor=owner,
        action="accounts.invitation.created",
        target=owner.membership,
        outcome="success",
    )
    services.audit_record(actor=None, action="tests.other.thing", target=None, outcome="success")
    client.force_login(auditor)
    page = client.get(reverse("compliance:audit_log"), {"action": "accounts.invitation"})
    assert page.status_code == 200
    assert b"accounts.invitation.created" in page.content
    assert b"tests.other.thing" not in page.content
    by_actor = client.get(reverse("compliance:audit_log"), {"actor": "owner@acme"})
    assert b"accounts.invitation.created" in by_actor.content
    assert b"tests.other.thing" not in by_actor.content
    bad = client.get(reverse("compliance:audit_log"), {"since": "yesterday-ish"})
    assert bad.status_code == 400


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_streams_every_matching_row_and_is_audited(client, auditor, fmt):
    """Input: 20,003 matching events, ten of the export's 2,000-row chunks and a partial one (the
    volume itself is measured in bench/audit.py)."""
    _bulk_events(EXPORT_ROWS)
    client.force_login(auditor)
    response = client.get(
        reverse("compliance:audit_export"), {"format": fmt, "action": "tests.bulk"}
    )
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    body = b"".join(response.streaming_content).decode()
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(body)))
        assert json.loads(rows[0]["details"]) == {"i": 0}
    else:
        rows = [json.loads(line) for line in body.splitlines()]
        assert rows[-1]["details"] == {"i": EXPORT_ROWS - 1}
    assert len(rows) == EXPORT_ROWS
    export = AuditEvent.objects.get(action="compliance.audit_log.exported")
    assert export.actor_label == auditor.email
    assert export.details["format"] == fmt


def test_export_command_writes_jsonl_and_is_audited(tmp_path):
    services.audit_record(actor=None, action="tests.cmd.one", target=None, outcome="success")
    out = tmp_path / "audit.jsonl"
    call_command("audit_export", "--format", "jsonl", "--action", "tests.cmd", "--output", str(out))
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["action"] for line in lines] == ["tests.cmd.one"]
    assert AuditEvent.objects.filter(
        action="compliance.audit_log.exported", details__via="command"
    ).exists()
    with pytest.raises(Exception, match="Not a date-time"):
        call_command("audit_export", "--since", "last tuesday", stdout=StringIO())


def test_dpo_can_read_but_not_export(client, dpo):
    client.force_login(dpo)
    assert client.get(reverse("compliance:audit_log")).status_code == 200
    assert client.get(reverse("compliance:audit_export"), {"format": "csv"}).status_code == 403


@pytest.mark.parametrize("persona", ["teammate", "owner"])
def test_customers_cannot_read_the_audit_log(client, persona, request):
    client.force_login(request.getfixturevalue(persona))
    for name in ("audit_log", "audit_export", "audit_verify"):
        assert client.get(reverse(f"compliance:{name}")).status_code == 403


def test_auditor_pages_refuse_writes(client, auditor):
    client.force_login(auditor)
    for name in ("staff_home", "audit_log", "audit_export", "audit_verify"):
        assert client.post(reverse(f"compliance:{name}")).status_code == 405
    # Django admin is not theirs either, and member management is for org admins.
    assert client.get("/admin/").status_code in (302, 403)
    assert (
        client.post(
            reverse("accounts:members"), {"email": "x@example.com", "role": "analyst"}
        ).status_code
        == 404
    )


def test_verify_page_reports_intact_chain(client, auditor):
    services.audit_record(actor=None, action="tests.verify.one", target=None, outcome="success")
    client.force_login(auditor)
    page = client.get(reverse("compliance:audit_verify"))
    assert page.status_code == 200
    assert b"Intact" in page.content


def test_unknown_export_format_is_refused(client, auditor):
    client.force_login(auditor)
    assert client.get(reverse("compliance:audit_export"), {"format": "xlsx"}).status_code == 400
    assert not AuditEvent.objects.filter(action="compliance.audit_log.exported").exists()
