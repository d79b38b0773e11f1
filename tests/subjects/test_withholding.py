"""Withholding under a legal restriction of the right of access (GDPR Art 23; issue 22 item 4).

Real services, the real face model on the shared photos: img1 (person01) is indexed; two organisations
(Acme Investigations and Other Corp) were each shown it by a search; the person files an access request with
img2 (person01 too) as the selfie, confirms the email, the DPO confirms the candidate and records the proof,
and the package is downloaded as the person would (report.html and data.json from the ZIP).
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import date

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from compliance import transparency
from compliance.models import AuditEvent
from search import withholding
from search.models import SearchHit, SearchRequest
from subjects import services
from subjects.identity import identity_proof_record
from subjects.models import ProofMethod, SubjectRequest
from tests.accounts.factories import api_token
from tests.search import photos
from tests.search.conftest import index_photos
from tests.subjects.requests_support import approve_all, link, submit, verify

pytestmark = pytest.mark.django_db(transaction=True)

SENTENCE = "Some information is withheld under a legal restriction (Art 23 GDPR)."
CLAIM = {"basis": "crime", "reference": "UK DPA 2018 Sch 2 para 2, case 123"}


def _search(user, case: str = "CASE-9") -> SearchRequest:
    return SearchRequest.objects.create(
        organisation=user.membership.organisation,
        user=user,
        purpose="p",
        lawful_basis="public_task",
        case_reference=case,
        status="done",
    )


@pytest.fixture
def seen(teammate, stranger):
    """img1 indexed; Acme's analyst (``teammate``) and Other Corp's admin (``stranger``) each saw it."""
    face = index_photos("img1.jpg")["img1.jpg"].faces.get()
    acme, other = _search(teammate, "ACME-1"), _search(stranger, "OTHER-1")
    for search in (acme, other):
        SearchHit.objects.create(search=search, face=face, distance=0.03, confidence=0.9, rank=1)
    return {"acme": acme, "other": other, "face": face}


def _package(client, dpo) -> tuple[str, dict]:
    """The person's access request (selfie img2, person01), carried out; returns report.html and data.json."""
    req = submit(client, "access", selfie=photos.photo("img2.jpg"))
    verify(client)
    req = SubjectRequest.objects.get(pk=req.pk)
    identity_proof_record(
        request=req, method=ProofMethod.VIDEO_CALL, accepted=True, actor=dpo, note="video call"
    )
    req = approve_all(req, dpo)
    services.request_execute(request=req, actor=dpo)
    download = client.post(link(mail.outbox[-1], "package"))
    archive = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
    return archive.read("report.html").decode(), json.loads(archive.read("data.json"))


def _recipients(data: dict) -> set[str]:
    return set(data["recipients"]) | {
        r["organisation"] for i in data["images"] for r in i["recipients"]
    }


def test_claim_not_yet_approved_withholds_nothing(client, seen, teammate, dpo):
    """Input: Acme's analyst claims the crime restriction on the search they ran, in the results page's form; the DPO
    has not decided. The package must still name Acme and say nothing about withholding."""
    client.force_login(teammate)
    page = client.get(reverse("search:detail", args=[seen["acme"].pk]))
    assert b'id="access-restriction"' in page.content and b"Claim the restriction" in page.content
    response = client.post(
        reverse("search:access_restriction_claim", args=[seen["acme"].pk]), CLAIM
    )
    assert response.status_code == 302
    seen["acme"].refresh_from_db()
    assert (
        seen["acme"].access_restriction == "pending"
        and seen["acme"].access_restriction_reference == CLAIM["reference"]
    )
    assert AuditEvent.objects.filter(
        action="search.access_restriction.claimed", target_id=str(seen["acme"].pk)
    ).exists()
    client.logout()
    report, data = _package(client, dpo)
    assert _recipients(data) == {"Acme Investigations", "Other Corp"}
    assert SENTENCE not in report and "withheld" not in data


def test_approved_claim_removes_the_organisation_and_adds_the_sentence(client, seen, teammate, dpo):
    """Input: Acme's claim, approved by the DPO on the withholdings page. The package must not name Acme anywhere,
    still name Other Corp (no claim), still hold the photo, and carry the one sentence without saying what."""
    withholding.search_access_restriction_claim(search=seen["acme"], user=teammate, **CLAIM)
    client.force_login(dpo)
    page = client.get(reverse("subjects:withholdings"))
    assert (
        b"UK DPA 2018 Sch 2 para 2, case 123" in page.content
        and b"Acme Investigations" in page.content
    )
    response = client.post(
        reverse("subjects:withholding_decide", args=[seen["acme"].pk]), {"decision": "approve"}
    )
    assert response.status_code == 302
    assert AuditEvent.objects.filter(
        action="search.access_restriction.approved", actor_id=dpo.pk
    ).exists()
    client.logout()
    report, data = _package(client, dpo)
    assert _recipients(data) == {"Other Corp"}
    assert "Acme" not in report and "Acme" not in json.dumps(data)
    assert [i["face"] for i in data["images"]] == [
        seen["face"].pk
    ]  # the person's own photo is still given
    assert SENTENCE in report and data["withheld"] == SENTENCE
    assert (
        "ACME-1" not in report and "crime" not in report.lower()
    )  # which search, and why, are not said


def test_refused_claim_withholds_nothing_and_needs_reasons(client, seen, teammate, dpo):
    """Input: Acme's claim refused by the DPO, first without reasons (refused: nothing changes), then with them."""
    withholding.search_access_restriction_claim(search=seen["acme"], user=teammate, **CLAIM)
    client.force_login(dpo)
    client.post(
        reverse("subjects:withholding_decide", args=[seen["acme"].pk]), {"decision": "refuse"}
    )
    seen["acme"].refresh_from_db()
    assert seen["acme"].access_restriction == "pending"
    client.post(
        reverse("subjects:withholding_decide", args=[seen["acme"].pk]),
        {"decision": "refuse", "note": "No case"},
    )
    seen["acme"].refresh_from_db()
    assert seen["acme"].access_restriction == "refused"
    client.logout()
    report, data = _package(client, dpo)
    assert "Acme Investigations" in _recipients(data) and SENTENCE not in report


def test_another_organisation_cannot_claim_a_search_that_is_not_theirs(client, seen, stranger):
    """Input: Other Corp's admin posts a claim on Acme's search, on the page and over the API: 404 both; nothing written."""
    client.force_login(stranger)
    assert (
        client.post(
            reverse("search:access_restriction_claim", args=[seen["acme"].pk]), CLAIM
        ).status_code
        == 404
    )
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_token(stranger)}")
    response = api.post(
        reverse("api-search-access-restriction", args=[seen["acme"].pk]), CLAIM, format="json"
    )
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    seen["acme"].refresh_from_db()
    assert seen["acme"].access_restriction == ""
    assert not AuditEvent.objects.filter(action="search.access_restriction.claimed").exists()


def test_an_analyst_who_did_not_run_the_search_cannot_claim_it(client, seen, owner, teammate, dpo):
    """Input: a search run by Acme's admin; Acme's analyst (same organisation) posts a claim: refused (403), while
    the admin may claim any of the organisation's searches over the API (201, schema-listed response)."""
    from accounts.models import Role
    from tests.accounts import factories

    second_analyst = factories.member(
        teammate.membership.organisation, role=Role.ANALYST, email="second@acme.example"
    )
    client.force_login(second_analyst)
    assert (
        client.post(
            reverse("search:access_restriction_claim", args=[seen["acme"].pk]), CLAIM
        ).status_code
        == 403
    )
    seen["acme"].refresh_from_db()
    assert seen["acme"].access_restriction == ""
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_token(owner)}")
    response = api.post(
        reverse("api-search-access-restriction", args=[seen["acme"].pk]), CLAIM, format="json"
    )
    assert response.status_code == 201, response.content
    assert (
        response.json()["access_restriction"] == "pending"
        and response.json()["reference"] == CLAIM["reference"]
    )
    again = api.post(
        reverse("api-search-access-restriction", args=[seen["acme"].pk]), CLAIM, format="json"
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_claimed"
    bad = api.post(
        reverse("api-search-access-restriction", args=[seen["acme"].pk]),
        {"basis": "other"},
        format="json",
    )
    assert bad.status_code == 400


def test_the_claim_endpoint_is_in_the_openapi_schema(client, teammate):
    """Input: the generated schema, fetched with an API token. The claim's path must be there with its request."""
    response = client.get("/api/schema/", HTTP_AUTHORIZATION=f"Token {api_token(teammate)}")
    assert response.status_code == 200
    text = response.content.decode()
    assert "/access-restriction/" in text and "AccessRestrictionInput" in text


def test_transparency_report_counts_claims_made_approved_refused(teammate, dpo):
    """Input: six claims this month, five approved and one refused. Published: 6 made, 5 approved, the one refusal
    suppressed as "< 5" (the report's rule for small counts)."""
    searches = [_search(teammate, f"CASE-{n}") for n in range(6)]
    for search in searches:
        withholding.search_access_restriction_claim(search=search, user=teammate, **CLAIM)
    for search in searches[:5]:
        withholding.search_access_restriction_decide(search=search, approve=True, actor=dpo)
    withholding.search_access_restriction_decide(
        search=searches[5], approve=False, actor=dpo, note="not covered"
    )
    month = timezone.localdate().replace(day=1)
    figures = transparency.report_for(month=date(month.year, month.month, 1)).by_key()
    assert figures["requests.withholding.claimed"].shown == "6"
    assert figures["requests.withholding.approved"].shown == "5"
    assert figures["requests.withholding.refused"].shown == transparency.SMALL


@pytest.mark.parametrize("language", ["fr", "it", "nl", "de"])
def test_the_sentence_and_the_counts_are_translated(language):
    """Input: the report's sentence and the transparency labels, in each public language: each is translated."""
    from django.utils import translation

    with translation.override(language):
        for text in (
            SENTENCE,
            "Withholding claims approved by our DPO",
            "Withholding claims refused by our DPO",
            "Withholding claims under a legal restriction (Art 23) made by organisations",
        ):
            assert translation.gettext(text) != text
