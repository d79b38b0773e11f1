"""The repeat-search hold spares one case: the same organisation searching a person again under the
SAME case reference within MONITORING_SAME_CASE_WINDOW_DAYS is not held; another case, an older
search of the case, or another organisation's search still behaves as before. Real face model on
real photos (img2, img4 and img5 show person01, indexed as img1).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from compliance.models import AuditEvent
from search.models import SearchRequest
from tests.search.conftest import index_photos
from tests.search.test_monitoring_flow import searched

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _hold_on(settings):
    settings.MONITORING_HOLD_REPEATS = True
    settings.MONITORING_SAME_CASE_WINDOW_DAYS = 30


@pytest.fixture
def indexed(db):
    return index_photos("img1.jpg", "img3.jpg")


def test_a_repeat_under_the_same_case_is_not_held_and_another_case_is(indexed, teammate, owner):
    """Inputs tried: the same case written differently (" case-1 "), by a colleague; then another case."""
    first = searched(teammate, "img2.jpg", "CASE-1")
    assert first.status == SearchRequest.Status.DONE
    same = searched(owner, "img4.jpg", " case-1 ")  # a colleague, same case, other spelling
    assert same.status == SearchRequest.Status.DONE and same.hits.exists()
    assert not AuditEvent.objects.filter(action="search.search.held_as_repeat").exists()
    other = searched(teammate, "img5.jpg", "CASE-2")
    assert other.status == SearchRequest.Status.NEEDS_CONFIRMATION
    held = AuditEvent.objects.get(action="search.search.held_as_repeat", target_id=str(other.pk))
    assert held.details["earlier_searches"] == [first.pk, same.pk]


def test_a_same_case_search_older_than_the_case_window_holds(indexed, teammate, settings):
    """Input tried: the case's earlier search is 11 days old and the same-case window is 10 days."""
    settings.MONITORING_SAME_CASE_WINDOW_DAYS = 10
    first = searched(teammate, "img2.jpg", "CASE-1")
    SearchRequest.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(days=11))
    repeat = searched(teammate, "img4.jpg", "CASE-1")
    assert repeat.status == SearchRequest.Status.NEEDS_CONFIRMATION


def test_window_zero_holds_the_same_case_as_before(indexed, teammate, settings):
    """Input tried: MONITORING_SAME_CASE_WINDOW_DAYS=0 (the guard as it was)."""
    settings.MONITORING_SAME_CASE_WINDOW_DAYS = 0
    searched(teammate, "img2.jpg", "CASE-1")
    assert (
        searched(teammate, "img4.jpg", "CASE-1").status == SearchRequest.Status.NEEDS_CONFIRMATION
    )


def test_a_case_mixing_same_and_other_cases_is_held(indexed, teammate):
    """Input tried: earlier searches under CASE-1 and CASE-2; the new one under CASE-1."""
    searched(teammate, "img2.jpg", "CASE-1")
    second = searched(teammate, "img4.jpg", "CASE-2")
    assert second.status == SearchRequest.Status.NEEDS_CONFIRMATION
    third = searched(teammate, "img5.jpg", "CASE-1")
    assert third.status == SearchRequest.Status.NEEDS_CONFIRMATION  # CASE-2 still counts
    held = AuditEvent.objects.get(action="search.search.held_as_repeat", target_id=str(third.pk))
    assert held.details["earlier_searches"] == [second.pk]


def test_another_organisation_under_the_same_case_name_is_unaffected(indexed, teammate, stranger):
    """Input tried: another customer uses the same case string; its searches never hold ours."""
    searched(stranger, "img2.jpg", "CASE-1")
    assert searched(teammate, "img4.jpg", "CASE-2").status == SearchRequest.Status.DONE


def test_the_confirm_form_is_prefilled_with_the_case(client, indexed, teammate):
    """Input tried: a held search under "CASE-7 draft"; the form offers that reference."""
    searched(teammate, "img2.jpg", "CASE-1")
    held = searched(teammate, "img4.jpg", "CASE-7 draft")
    assert held.status == SearchRequest.Status.NEEDS_CONFIRMATION
    client.force_login(teammate)
    page = client.get(reverse("search:detail", args=[held.pk])).content.decode()
    assert 'name="case_reference"' in page and 'value="CASE-7 draft"' in page
