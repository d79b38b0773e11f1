"""The repeat-search hold end to end, with the real face model on real probe photos: a second photo of a
person the organisation searched before is held until the analyst confirms with a case reference (UI
and API), another person is not held, and a confirmation that reaches the threshold raises an alert.
"""

from __future__ import annotations

import pytest
from django.test import TestCase
from django.urls import reverse
from rest_framework.test import APIClient

from compliance.models import AuditEvent
from search import monitoring, services
from search.models import MonitoringAlert, SearchRequest
from tests.accounts.factories import api_token
from tests.search import photos
from tests.search.conftest import index_photos

pytestmark = pytest.mark.django_db

FIELDS = {
    "purpose": "Identify a fraud suspect",
    "lawful_basis": "legitimate_interests",
    "case_reference": "CASE-1",
}


@pytest.fixture(autouse=True)
def _hold_on(settings):
    settings.MONITORING_HOLD_REPEATS = (
        True  # the product default (the test settings switch it off elsewhere)
    )


@pytest.fixture
def indexed(db):
    """img1 shows person01 (the probes img2, img4 and img5 too); img3 shows person02 (the probe img12 too)."""
    return index_photos("img1.jpg", "img3.jpg")


def run(search: SearchRequest) -> SearchRequest:
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.search_process_probe(search_id=search.pk)
    search.refresh_from_db()
    return search


def searched(user, photo: str, case: str) -> SearchRequest:
    return run(
        services.search_create(
            user=user, image_data=photos.photo(photo), **{**FIELDS, "case_reference": case}
        )
    )


def api_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(user)}")
    return client


def test_another_photo_of_a_person_searched_before_is_held_and_another_person_is_not(
    indexed, teammate
):
    """Bad input tried: a different photo (img4) of the person the organisation found with img2."""
    first = searched(teammate, "img2.jpg", "CASE-1")
    assert (
        first.status == SearchRequest.Status.DONE
        and first.hits.get(rank=1).face.image_id == indexed["img1.jpg"].pk
    )
    repeat = searched(teammate, "img4.jpg", "CASE-2")
    assert repeat.status == SearchRequest.Status.NEEDS_CONFIRMATION
    held = AuditEvent.objects.get(action="search.search.held_as_repeat", target_id=str(repeat.pk))
    assert held.details["earlier_searches"] == [first.pk]
    other = searched(teammate, "img12.jpg", "CASE-3")  # person02: not searched before
    assert other.status == SearchRequest.Status.DONE


def test_another_organisation_searching_the_same_person_is_not_held(indexed, teammate, stranger):
    """Bad input tried: the person searched before, but by a different customer (not a repeat for this one)."""
    searched(teammate, "img2.jpg", "CASE-1")
    assert searched(stranger, "img4.jpg", "THEIRS-1").status == SearchRequest.Status.DONE


def test_ui_confirmation_releases_the_results_and_is_audited(client, indexed, teammate):
    """Bad input tried: confirming without ticking the box, and with a blank case reference."""
    searched(teammate, "img2.jpg", "CASE-1")
    repeat = searched(teammate, "img4.jpg", "CASE-1b")
    client.force_login(teammate)
    page = client.get(reverse("search:detail", args=[repeat.pk])).content.decode()
    assert "Repeat search: confirm to see the results" in page
    assert "/faces/" not in page  # no result is shown while held
    face_id = repeat.hits.get(rank=1).face_id
    assert client.get(reverse("search:hit_thumbnail", args=[repeat.pk, face_id])).status_code == 404
    confirm = reverse("search:confirm_repeat", args=[repeat.pk])
    no_tick = client.post(confirm, {"case_reference": "CASE-2"})
    assert no_tick.status_code == 400 and "Tick the box" in no_tick.content.decode()
    blank = client.post(confirm, {"case_reference": "  ", "confirm": "on"})
    assert blank.status_code == 400 and "This field is required" in blank.content.decode()
    repeat.refresh_from_db()
    assert (
        repeat.status == SearchRequest.Status.NEEDS_CONFIRMATION
        and repeat.case_reference == "CASE-1b"
    )
    assert client.post(confirm, {"case_reference": "CASE-2", "confirm": "on"}).status_code == 302
    repeat.refresh_from_db()
    assert repeat.status == SearchRequest.Status.DONE and repeat.case_reference == "CASE-2"
    event = AuditEvent.objects.get(
        action="search.search.repeat_confirmed", target_id=str(repeat.pk)
    )
    assert event.actor_id == teammate.pk
    assert (
        event.details["case_reference"] == "CASE-2"
        and event.details["previous_case_reference"] == "CASE-1b"
    )
    assert (
        f"/faces/{face_id}.jpg"
        in client.get(reverse("search:detail", args=[repeat.pk])).content.decode()
    )
    assert client.get(reverse("search:hit_thumbnail", args=[repeat.pk, face_id])).status_code == 200


def test_api_hold_confirm_and_cancel(indexed, teammate, owner, stranger):
    """Bad input tried: crops while held, no case reference, a teammate and a stranger confirming, confirming twice."""
    api = api_client(teammate)
    searched(teammate, "img2.jpg", "CASE-1")
    repeat = searched(teammate, "img4.jpg", "CASE-9")  # another case: held
    detail = api.get(reverse("api-search-detail", args=[repeat.pk])).json()
    assert detail["status"] == "needs_confirmation" and detail["hits"] == []
    confirmation = detail["confirmation"]
    assert confirmation["code"] == "needs_confirmation" and confirmation["earlier_searches"] == 1
    assert confirmation["confirm_url"].endswith(
        reverse("api-search-confirm-repeat", args=[repeat.pk])
    )
    crop = api.get(
        reverse("api-search-hit-crop", args=[repeat.pk, repeat.hits.get(rank=1).face_id])
    )
    assert crop.status_code == 409 and crop.json()["error"]["code"] == "needs_confirmation"
    url = reverse("api-search-confirm-repeat", args=[repeat.pk])
    missing = api.post(url, {}, format="json")
    assert missing.status_code == 400 and "case_reference" in missing.json()["error"]["fields"]
    assert api.post(url, {"case_reference": "   "}, format="json").status_code == 400
    not_theirs = api_client(owner).post(url, {"case_reference": "CASE-2"}, format="json")
    assert not_theirs.status_code == 403 and not_theirs.json()["error"]["code"] == "not_your_search"
    assert (
        api_client(stranger).post(url, {"case_reference": "CASE-2"}, format="json").status_code
        == 404
    )
    done = api.post(url, {"case_reference": "CASE-2"}, format="json")
    assert done.status_code == 200, done.content
    body = done.json()
    assert (
        body["status"] == "done" and body["case_reference"] == "CASE-2" and len(body["hits"]) == 1
    )
    assert body["confirmation"] is None
    again = api.post(url, {"case_reference": "CASE-3"}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_held"
    # A third search of the person, withdrawn unseen.
    third = searched(teammate, "img5.jpg", "CASE-3")
    assert third.status == SearchRequest.Status.NEEDS_CONFIRMATION
    cancelled = api.post(reverse("api-search-cancel-repeat", args=[third.pk]))
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "failed"
    assert not third.hits.exists()
    assert AuditEvent.objects.filter(
        action="search.search.repeat_cancelled", target_id=str(third.pk)
    ).exists()


def test_confirmed_repeats_reaching_the_threshold_raise_an_alert(indexed, teammate, settings):
    """Bad input tried: one person searched from three different photos under three cases."""
    assert settings.MONITORING_CASES_PER_ORGANISATION == 3
    searched(teammate, "img2.jpg", "CASE-1")
    for photo, case in [("img4.jpg", "CASE-2"), ("img5.jpg", "CASE-3")]:
        held = searched(teammate, photo, f"{case}-draft")
        assert held.status == SearchRequest.Status.NEEDS_CONFIRMATION
        assert not MonitoringAlert.objects.exists()  # a held search does not count until confirmed
        with TestCase.captureOnCommitCallbacks(execute=True):
            monitoring.search_repeat_confirm(search=held, user=teammate, case_reference=case)
    alert = MonitoringAlert.objects.get()
    assert alert.max_case_references == 3 and alert.links.count() == 3


def test_openapi_schema_documents_the_confirmation(client, teammate):
    client.force_login(teammate)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert "/api/v1/searches/{search_id}/confirm-repeat/" in schema["paths"]
    responses = schema["paths"]["/api/v1/searches/{search_id}/confirm-repeat/"]["post"]["responses"]
    assert {"200", "400", "403", "409"} <= set(responses)


def test_stranger_gets_404_and_a_colleague_cannot_confirm_in_the_ui(
    client, indexed, teammate, owner, stranger
):
    """Bad input tried: another customer confirming or cancelling our held search; a colleague confirming it."""
    searched(teammate, "img2.jpg", "CASE-1")
    repeat = searched(teammate, "img4.jpg", "CASE-9")  # another case: held
    client.force_login(stranger)
    for name in ("search:confirm_repeat", "search:cancel_repeat", "search:detail"):
        method = client.get if name == "search:detail" else client.post
        assert (
            method(
                reverse(name, args=[repeat.pk]), {"case_reference": "X", "confirm": "on"}
            ).status_code
            == 404
        )
    client.force_login(owner)
    answer = client.post(
        reverse("search:confirm_repeat", args=[repeat.pk]), {"case_reference": "X", "confirm": "on"}
    )
    assert answer.status_code == 302
    assert "Only the analyst who ran this search" in client.get(answer.url).content.decode()
    repeat.refresh_from_db()
    assert (
        repeat.status == SearchRequest.Status.NEEDS_CONFIRMATION
        and repeat.case_reference == "CASE-9"
    )
