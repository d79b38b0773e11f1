"""Monitoring guard: alerts at the thresholds, across organisations, inside the window only; the DPO's
evidence and closing; the public count. The "same person" is decided on real embeddings of real photos
(person01: img1 and img4; person02: img3), indexed with the real model.

The searches in the threshold tests are written as the search pipeline leaves them (status done, the
top match stored as hit 1) and then checked by the guard, so that each test does not have to run the
face model once per search; tests/search/test_monitoring_flow.py runs the whole pipeline on probes.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.db import transaction
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from compliance.models import AuditEvent
from search import monitoring
from search.models import Face, MonitoringAlert, SearchHit, SearchRequest
from tests.accounts import factories
from tests.search.conftest import index_photos

pytestmark = pytest.mark.django_db

N = settings.MONITORING_CASES_PER_ORGANISATION
M = settings.MONITORING_ORGANISATIONS
WINDOW = timedelta(days=settings.MONITORING_WINDOW_DAYS)


@pytest.fixture
def faces(db) -> dict[str, Face]:
    """Real faces: img1 and img4 show person01 (two different photos), img3 shows person02."""
    images = index_photos("img1.jpg", "img4.jpg", "img3.jpg")
    return {name: image.faces.get() for name, image in images.items()}


def _org_with_people(name: str) -> tuple[object, object]:
    """An organisation with an admin (who gets the alert) and an analyst; returns (analyst, admin)."""
    org = factories.organisation(name)
    admin = factories.member(org, role=Role.ORG_ADMIN, email=f"admin@{org.slug}.example")
    factories.with_totp(admin)  # org admins must have two-factor authentication
    analyst = factories.member(org, role=Role.ANALYST, email=f"analyst@{org.slug}.example")
    return analyst, admin


def completed(user, face: Face, case: str, *, ago: timedelta = timedelta(0)) -> SearchRequest:
    """A finished search whose top match is ``face``, as the pipeline leaves it, then the guard's check."""
    created = timezone.now() - ago
    with TestCase.captureOnCommitCallbacks(execute=True), transaction.atomic():
        search = SearchRequest.objects.create(
            organisation=user.membership.organisation,
            user=user,
            purpose="Find a witness",
            lawful_basis="public_task",
            case_reference=case,
            status=SearchRequest.Status.DONE,
            model=face.model,
            created_at=created,
            completed_at=created,
        )
        SearchHit.objects.create(search=search, face=face, distance=0.02, confidence=0.9, rank=1)
        monitoring.search_monitoring_check(search=search)
    return search


def test_n_minus_one_case_references_raise_nothing_and_the_nth_raises_one_alert(faces, dpo):
    """Bad input tried: one organisation searching one person under N-1 cases (below), then N (at the threshold)."""
    analyst, admin = _org_with_people("Acme")
    for i in range(N - 1):
        completed(analyst, faces["img1.jpg"], f"CASE-{i}")
    assert MonitoringAlert.objects.count() == 0
    assert mail.outbox == []
    last = completed(analyst, faces["img1.jpg"], f"CASE-{N}")
    alert = MonitoringAlert.objects.get()
    assert alert.status == MonitoringAlert.Status.OPEN
    assert alert.max_case_references == N and alert.organisations == 1
    assert (
        set(alert.searches.values_list("pk", flat=True))
        == set(SearchRequest.objects.values_list("pk", flat=True))
        and last in alert.searches.all()
    )
    # Audited in the same transaction, and the DPO and the organisation's admin are told by email.
    event = AuditEvent.objects.get(action="search.monitoring_alert.raised")
    assert event.target_id == str(alert.pk) and event.details["max_case_references"] == N
    recipients = sorted(tuple(m.to) for m in mail.outbox)
    assert recipients == sorted([tuple(sorted([dpo.email, settings.DPO_EMAIL])), (admin.email,)])
    assert all("embedding" not in m.body and "/faces/" not in m.body for m in mail.outbox)


def test_the_same_case_reference_written_differently_counts_once(faces):
    """Bad input tried: one case written as "CASE-7", " case-7 " and "Case-7": one case, no alert."""
    analyst, _ = _org_with_people("Acme")
    for case in ["CASE-7", " case-7 ", "Case-7", "CASE-7"]:
        completed(analyst, faces["img1.jpg"], case)
    assert MonitoringAlert.objects.count() == 0


def test_m_minus_one_organisations_raise_nothing_and_the_mth_raises_one_alert(faces, dpo):
    """Bad input tried: M-1 customers searching one person once each (below), then an Mth customer."""
    orgs = [_org_with_people(f"Customer {i}") for i in range(M)]
    for analyst, _ in orgs[:-1]:
        completed(analyst, faces["img1.jpg"], "SHARED-1")
    assert MonitoringAlert.objects.count() == 0
    completed(orgs[-1][0], faces["img4.jpg"], "SHARED-1")  # another photo of the same person
    alert = MonitoringAlert.objects.get()
    assert alert.organisations == M and alert.max_case_references == 1
    admins = {admin.email for _, admin in orgs}
    told = [m for m in mail.outbox if m.to[0] in admins]
    assert sorted(m.to[0] for m in told) == sorted(admins)  # each organisation's admins once
    for (
        message
    ) in told:  # an admin hears about their own organisation only, never who else searched
        assert not any(f"Customer {i}" in message.body for i in range(M))


def test_different_people_searched_raise_no_alert(faces):
    """Bad input tried: N searches under N cases, but of two different people (N-1 of one, 1 of the other)."""
    analyst, _ = _org_with_people("Acme")
    for i in range(N - 1):
        completed(analyst, faces["img1.jpg"], f"CASE-{i}")
    completed(analyst, faces["img3.jpg"], "CASE-other")
    assert MonitoringAlert.objects.count() == 0


def test_two_photos_of_one_person_are_the_same_person_and_another_person_is_not(faces):
    """The real model on real photos: person01's img1 and img4 are within the strict threshold; img3 is not."""
    threshold = monitoring.same_person_threshold(model=faces["img1.jpg"].model)
    analyst, _ = _org_with_people("Acme")
    first = completed(analyst, faces["img1.jpg"], "CASE-1")
    second = completed(analyst, faces["img4.jpg"], "CASE-2")
    other = completed(analyst, faces["img3.jpg"], "CASE-3")
    ids = monitoring._same_person_search_ids(search=second, statuses=["done"])
    assert ids == [first.pk, second.pk], f"threshold {threshold}"
    assert monitoring._same_person_search_ids(search=other, statuses=["done"]) == [other.pk]


@pytest.mark.parametrize(
    ("age", "alert"),
    [(WINDOW + timedelta(minutes=1), False), (WINDOW - timedelta(minutes=1), True)],
    ids=["first-search-just-outside-the-window", "first-search-just-inside-the-window"],
)
def test_the_window_boundary(faces, age, alert):
    """Bad input tried: the first of N searches made one minute before the window opens."""
    analyst, _ = _org_with_people("Acme")
    completed(analyst, faces["img1.jpg"], "CASE-old", ago=age)
    for i in range(N - 1):
        completed(analyst, faces["img1.jpg"], f"CASE-{i}")
    assert MonitoringAlert.objects.count() == (1 if alert else 0)


def test_more_searches_update_the_open_alert_instead_of_raising_another(faces, dpo):
    """Bad input tried: the same person searched again after the alert, by the same and by a new organisation."""
    analyst, _ = _org_with_people("Acme")
    for i in range(N):
        completed(analyst, faces["img1.jpg"], f"CASE-{i}")
    alert = MonitoringAlert.objects.get()
    emails_at_raise = len(mail.outbox)
    completed(analyst, faces["img4.jpg"], "CASE-extra")
    newcomer, newcomer_admin = _org_with_people("Newcomer")
    completed(newcomer, faces["img1.jpg"], "NEW-1")
    assert MonitoringAlert.objects.count() == 1
    alert.refresh_from_db()
    assert (
        alert.links.count() == N + 2
        and alert.organisations == 2
        and alert.max_case_references == N + 1
    )
    assert (
        AuditEvent.objects.filter(
            action="search.monitoring_alert.updated", target_id=str(alert.pk)
        ).count()
        == 2
    )
    # The DPO is not emailed again for each search; the new organisation's admin is told once.
    new_emails = mail.outbox[emails_at_raise:]
    assert [m.to for m in new_emails] == [[newcomer_admin.email]]


def test_dpo_sees_the_evidence_and_closes_the_alert_with_a_note(
    client, faces, dpo, auditor, teammate
):
    """Bad input tried: closing without a note; customers and auditors opening the evidence."""
    analyst, _ = _org_with_people("Acme")
    for i in range(N):
        completed(analyst, faces["img1.jpg"], f"CASE-{i}")
    alert = MonitoringAlert.objects.get()
    url = reverse("search:monitoring_alert", args=[alert.pk])
    for outsider in (teammate, auditor, analyst):
        client.force_login(outsider)
        assert client.get(url).status_code in (403, 404)
        assert client.post(
            reverse("search:monitoring_alert_close", args=[alert.pk]), {"note": "x"}
        ).status_code in (403, 404)
    client.force_login(dpo)
    # The staff dashboard shows the open alert.
    home = client.get(reverse("compliance:staff_home")).content.decode()
    assert "Monitoring alerts" in home and url in home
    dashboard = client.get(reverse("compliance:dashboard")).content.decode()
    assert "1 open; 1 raised in the last eight weeks" in dashboard
    page = client.get(url).content.decode()
    for i in range(N):
        assert f"CASE-{i}" in page
    assert "Acme" in page and analyst.email in page
    assert "/faces/" not in page and "<img" not in page  # never the face
    close = reverse("search:monitoring_alert_close", args=[alert.pk])
    refused = client.post(close, {"note": "   "})
    assert refused.status_code == 400 and "Closing note" in refused.content.decode()
    alert.refresh_from_db()
    assert alert.status == MonitoringAlert.Status.OPEN
    assert (
        client.post(
            close, {"note": "Three linked fraud cases; checked with the customer."}
        ).status_code
        == 302
    )
    alert.refresh_from_db()
    assert alert.status == MonitoringAlert.Status.CLOSED and alert.closed_by == dpo
    event = AuditEvent.objects.get(action="search.monitoring_alert.closed")
    assert event.actor_id == dpo.pk and "linked fraud cases" in event.details["note"]
    assert client.post(close, {"note": "again"}).status_code == 400  # closed already
    assert client.get(reverse("search:monitoring_alert", args=[alert.pk + 1000])).status_code == 404
    # Reviewed searches do not count again: one more search does not reopen it, N new ones do.
    completed(analyst, faces["img1.jpg"], "CASE-after")
    assert MonitoringAlert.objects.filter(status="open").count() == 0
    for i in range(N - 1):
        completed(analyst, faces["img1.jpg"], f"LATER-{i}")
    assert MonitoringAlert.objects.filter(status="open").count() == 1


def test_the_alert_holds_no_face_and_no_embedding():
    """The alert table has no face, image or vector column: only links to searches and counts."""
    columns = {f.name: f for f in MonitoringAlert._meta.get_fields()}
    assert not any(getattr(f, "related_model", None) is Face for f in columns.values())
    assert not any(type(f).__name__ == "VectorField" for f in columns.values())
    assert "embedding" not in columns and "face" not in columns


def test_org_admin_sees_only_their_own_searches_in_the_alert(client, faces):
    """Bad input tried: an alert shared by two customers; each admin's page lists only their own cases."""
    first, _ = _org_with_people("First")
    second, second_admin = _org_with_people("Second")
    for i in range(N):
        completed(first, faces["img1.jpg"], f"FIRST-{i}")
    completed(second, faces["img1.jpg"], "SECOND-1")
    client.force_login(second_admin)
    page = client.get(reverse("search:index")).content.decode()
    assert "Monitoring alerts about your organisation" in page and "SECOND-1" in page
    assert "FIRST-" not in page and "First" not in page
    client.force_login(second)  # an analyst does not see the panel
    assert "Monitoring alerts about" not in client.get(reverse("search:index")).content.decode()


def test_the_public_count_is_a_number_only(faces):
    """Bad input tried: an alert with case references and analysts behind it; the count carries none of it."""
    analyst, _ = _org_with_people("Acme")
    for i in range(N):
        completed(analyst, faces["img1.jpg"], f"CASE-{i}")
    now = timezone.now()
    count = monitoring.monitoring_alert_count(
        since=now - timedelta(days=1), until=now + timedelta(days=1)
    )
    assert type(count) is int and count == 1
    assert (
        monitoring.monitoring_alert_count(
            since=now + timedelta(days=1), until=now + timedelta(days=2)
        )
        == 0
    )


@pytest.mark.django_db(transaction=True)
def test_two_searches_completing_at_once_are_both_counted(transactional_db):
    """Bad input tried: the (N-1)th and Nth searches finish in two workers at the same moment, each
    written before the other committed; the Nth must still raise exactly one alert."""
    import threading

    from django.db import connection

    face = index_photos("img1.jpg")["img1.jpg"].faces.get()
    analyst, _ = _org_with_people("Acme")
    for i in range(N - 2):
        completed(analyst, face, f"CASE-{i}")
    both_written = threading.Barrier(2, timeout=30)
    errors: list[BaseException] = []

    def worker(case: str) -> None:
        try:
            with transaction.atomic():
                search = SearchRequest.objects.create(
                    organisation=analyst.membership.organisation,
                    user=analyst,
                    purpose="p",
                    lawful_basis="public_task",
                    case_reference=case,
                    status=SearchRequest.Status.DONE,
                    model=face.model,
                    completed_at=timezone.now(),
                )
                SearchHit.objects.create(
                    search=search, face=face, distance=0.02, confidence=0.9, rank=1
                )
                both_written.wait()  # neither has committed: each cannot see the other's search yet
                monitoring.search_monitoring_check(search=search)
        except BaseException as exc:  # noqa: BLE001 (reported below, in the test's thread)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(f"RACE-{n}",)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    alert = MonitoringAlert.objects.get()
    assert alert.links.count() == N
