"""Invariant matrix: Django admin cannot bypass the workflow, and its changes are audited readably.

Admin is driven through the real test client as a logged-in superuser with a TOTP authenticator
(as tests/compliance/test_admin_audit.py does); the audit log is read back through the auditor's
own log page and export, with the object filter an auditor types.

Decisions per registered admin (``grep -rn "admin.register" */admin.py`` and the third-party ones):

==============================  ===================================================================
Model                           Admin
==============================  ===================================================================
search.SourceImage              view only (personal data); file never rendered
search.Face                     view only; status, jurisdiction and expiry change only through
                                search's services (restriction, objection, erasure, sweeps); crop
                                and embedding never rendered
search.SearchRequest            view only; probe file and probe embedding never rendered
search.ProbeFace                view only (newly registered); thumbnail and embedding never rendered
search.SearchHit                view only
search.MonitoringAlert          view only (the DPO closes alerts on the evidence page)
subjects.SubjectRequest         view only; status token hash and template never rendered
subjects.Candidate              view only (newly registered; the DPO confirms or rejects on the request page)
subjects.AccessPackage          view only (newly registered); file and token hash never rendered
subjects.ErasureReceipt         view only
search.Suppression              view only; template never rendered (hash shown shortened)
compliance.AuditEvent           view only (append-only log)
compliance.SweepReceipt         view only
compliance.LegalHold            view only (placed and released on the DPO's page)
compliance.RetentionPolicy      view only (changed on the DPO's retention page)
compliance.Dpia                 add / change, audited with its diff
crawling.Source                 add / change through crawling.services (source_add, source_update):
                                a change to what the DPO approved withdraws the approval; no delete
crawling.CrawlJob               view only (jobs are started, paused and cancelled on the DPO's page)
accounts.User                   add / change / delete, audited (password hash redacted)
accounts.Organisation           add / change / delete with memberships inline, audited
accounts.Invitation             view / change (e.g. revoke), audited; token hash never rendered;
                                no add (invitations are sent from the members page)
accounts.ApiToken               view only, no key (only its hash is stored)
mfa.Authenticator               view / delete (reset a lost authenticator), audited; its secret data
                                never rendered; no add or change
auth.Group                      third-party admin re-registered with the audit mixin
account.EmailAddress            third-party admin re-registered with the audit mixin
django_celery_beat.*            third-party admins re-registered with the audit mixin (their bulk
                                actions too)
==============================  ===================================================================

How each row was checked against the code before the fix: this module was run (on a fresh test
database) with the application code of the commit before the fix checked out and this module kept.
Every row (the tests whose ids read "<guarantee> × <path>") failed there, for the reason it names:
the face and image posts saved (302), the new admins were not registered, the crop's file name and
the TOTP secret were on the pages, the audit events had the id in the object type (no event found by
type and id) or none at all, sources stayed approved, ``--update`` and ``/sources/<id>/edit/`` did
not exist, and the bypassing writes went through. The tests without such an id are guards for
behaviour that held before and must keep holding (an unchanged save keeps the approval, every admin
list opens, the admins that were view only stay so).
"""

from __future__ import annotations

import json

import pytest
from allauth.mfa.models import Authenticator
from django.contrib import admin
from django.urls import reverse

from accounts.models import Organisation, User
from compliance.models import AuditEvent
from search.models import Face, ProbeFace, SearchHit, SearchRequest, SourceImage
from subjects.models import AccessPackage, Candidate, ErasureReceipt, SubjectRequest, Suppression
from tests.accounts import factories
from tests.invariants.admin_support import (
    _events,
    _no_crawl_worker,  # noqa: F401 (an autouse fixture)
    one_row,
)
from tests.search.conftest import index_photos

pytestmark = pytest.mark.django_db


def _face(status: str) -> Face:
    """A real face (img1.jpg through the face model), put in ``status`` as the workflow would have."""
    image = index_photos("img1.jpg", jurisdiction="FR")["img1.jpg"]
    face = image.faces.first()
    assert face is not None, "the face model found no face in img1.jpg"
    Face.objects.filter(pk=face.pk).update(status=status)
    face.refresh_from_db()
    return face


# --- Restriction and suppression × admin ------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "tried"),
    [
        pytest.param(
            Face.Status.RESTRICTED,
            "active",
            id="restriction × admin face change (restricted → active)",
        ),
        pytest.param(
            Face.Status.SUPPRESSED,
            "active",
            id="suppression × admin face change (suppression lifted)",
        ),
        pytest.param(
            Face.Status.ACTIVE,
            "restricted",
            id="restriction × admin face change (active → restricted, no notice)",
        ),
    ],
)
def test_admin_cannot_change_a_face_status(admin_client, status, tried):
    """Input: the superuser posts the face's change form with another status (and the same other fields)."""
    face = _face(status)
    response = admin_client.post(
        f"/admin/search/face/{face.pk}/change/",
        {
            "pipeline": face.pipeline,
            "status": tried,
            "jurisdiction": face.jurisdiction,
            "expires_at_0": "",
            "expires_at_1": "",
        },
    )
    face.refresh_from_db()
    assert response.status_code == 403
    assert face.status == status  # what the person was told still holds
    assert not AuditEvent.objects.filter(action="admin.search.face.changed").exists()


@one_row("restriction × admin source image change")
def test_admin_cannot_change_a_source_image(row, admin_client):
    """Input: the image's change form with an excluded
    jurisdiction (GB) and status set back to pending (which would re-analyse it)."""
    image = index_photos("img3.jpg", jurisdiction="FR")["img3.jpg"]
    response = admin_client.post(
        f"/admin/search/sourceimage/{image.pk}/change/",
        {
            "source_label": image.source_label,
            "jurisdiction": "GB",
            "status": "pending",
            "attempts": "0",
        },
    )
    image.refresh_from_db()
    assert response.status_code == 403
    assert (image.jurisdiction, image.status) == ("FR", SourceImage.Status.DONE)


# Personal data that admin could add, change or delete, or did not show at all (rows); and that was
# view only already (kept so by the guard test below).
PERSONAL_DATA_ROWS = [Face, SourceImage, ProbeFace, Candidate, AccessPackage]


PERSONAL_DATA_ALREADY_VIEW_ONLY = [
    SearchRequest,
    SearchHit,
    SubjectRequest,
    ErasureReceipt,
    Suppression,
    AuditEvent,
]


def _assert_view_only(client, root, model) -> None:
    assert admin.site.is_registered(model), f"{model._meta.label} is not shown in admin"
    model_admin = admin.site.get_model_admin(model)
    request = client.get("/admin/").wsgi_request
    request.user = root
    assert model_admin.has_view_permission(request)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    assert (
        client.get(f"/admin/{model._meta.app_label}/{model._meta.model_name}/add/").status_code
        == 403
    )


@pytest.mark.parametrize(
    "model",
    [pytest.param(m, id=f"view only × admin {m._meta.label_lower}") for m in PERSONAL_DATA_ROWS],
)
def test_personal_data_is_view_only_in_admin(admin_client, root, model):
    """Input: the superuser's add, change and delete rights on the model's admin, and its add page."""
    _assert_view_only(admin_client, root, model)


def test_personal_data_already_view_only_stays_so(admin_client, root):
    """Not a row (these held before): the other personal-data admins stay view only on the new base."""
    for model in PERSONAL_DATA_ALREADY_VIEW_ONLY:
        _assert_view_only(admin_client, root, model)


@one_row("no image or embedding × admin face page")
def test_face_page_renders_no_crop_file_or_embedding(row, admin_client):
    """Input: the face's admin page as the superuser."""
    face = _face(Face.Status.ACTIVE)
    page = admin_client.get(f"/admin/search/face/{face.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert face.crop.name not in html and face.image.file.name not in html
    assert "embedding" not in html.lower()
    image_page = admin_client.get(
        f"/admin/search/sourceimage/{face.image_id}/change/"
    ).content.decode()
    assert image_page and face.image.file.name not in image_page


@one_row("no secret × admin MFA authenticator page")
def test_authenticator_page_shows_no_secret(row, admin_client, dpo):
    """Input: the DPO's TOTP authenticator, opened in admin."""
    authenticator = Authenticator.objects.get(user=dpo, type=Authenticator.Type.TOTP)
    secret = authenticator.data["secret"]
    page = admin_client.get(f"/admin/mfa/authenticator/{authenticator.pk}/change/")
    assert page.status_code == 200
    assert secret not in page.content.decode()


# --- Audit diff and the auditor's object filter × admin ----------------------------------------


def _auditor_finds(client, auditor, obj, action: str) -> None:
    """The auditor filters the log page and the export by the object (``type:id``) and finds the event."""
    client.force_login(auditor)
    target = f"{obj._meta.label_lower}:{obj.pk}"
    page = client.get(reverse("compliance:audit_log"), {"target": target})
    assert page.status_code == 200 and action in page.content.decode()
    export = client.get(reverse("compliance:audit_export"), {"format": "jsonl", "target": target})
    rows = [json.loads(line) for line in b"".join(export.streaming_content).decode().splitlines()]
    assert action in {r["action"] for r in rows}


@pytest.mark.parametrize(
    "row",
    [
        pytest.param(
            "organisation", id="audit diff and audit object filter × admin change of organisation"
        )
    ],
)
def test_admin_change_of_an_organisation_has_a_diff_and_its_own_object(
    row, admin_client, client, auditor, root
):
    """Input: the organisation renamed and deactivated in admin."""
    org = Organisation.objects.create(name="Acme Investigations", slug="acme-inv")
    response = admin_client.post(
        f"/admin/accounts/organisation/{org.pk}/change/",
        {
            "name": "Acme Inquiries",
            "slug": "acme-inv",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    [event] = _events("admin.accounts.organisation.changed", org)
    assert event.actor_label == root.email
    assert sorted(event.details["fields"]) == ["is_active", "name"]
    changes = {c["field"]: (c["old"], c["new"]) for c in event.details["changes"]}
    assert changes == {
        "name": ("Acme Investigations", "Acme Inquiries"),
        "is_active": (True, False),
    }
    _auditor_finds(client, auditor, org, "admin.accounts.organisation.changed")


@one_row("audit diff × admin password change (hash redacted)")
def test_admin_password_change_is_audited_without_the_hash(row, admin_client, root):
    """Input: a staff member's password set in admin."""
    staff = factories.user(email="ops@facesearch.example", is_staff=True)
    old_hash = staff.password
    response = admin_client.post(
        f"/admin/accounts/user/{staff.pk}/password/",
        {
            "password1": "An0ther-long-passphrase",
            "password2": "An0ther-long-passphrase",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    staff.refresh_from_db()
    [event] = _events("admin.accounts.user.changed", staff)
    assert event.details["changes"] == [{"field": "password", "redacted": True}]
    logged = json.dumps(event.details)
    assert old_hash not in logged and staff.password not in logged


@one_row("audit diff × admin add of a celery beat schedule (third-party admin)")
def test_third_party_admin_addition_is_audited(row, admin_client, client, auditor):
    """Input: an interval added in admin."""
    from django_celery_beat.models import IntervalSchedule

    response = admin_client.post(
        "/admin/django_celery_beat/intervalschedule/add/",
        {
            "every": "7",
            "period": "days",
            "periodictask_set-TOTAL_FORMS": "0",
            "periodictask_set-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    schedule = IntervalSchedule.objects.get(every=7, period="days")
    [event] = _events("admin.django_celery_beat.intervalschedule.added", schedule)
    changes = {c["field"]: c["new"] for c in event.details["changes"]}
    assert changes == {"every": 7, "period": "days"}
    _auditor_finds(client, auditor, schedule, "admin.django_celery_beat.intervalschedule.added")


@one_row("audit diff × admin bulk action (celery beat disable_tasks)")
def test_third_party_bulk_action_is_audited(row, admin_client):
    """Input: a periodic task disabled with the
    list's action, which updates rows without Django's own log."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every = IntervalSchedule.objects.create(every=1, period="hours")
    task = PeriodicTask.objects.create(
        name="nightly", task="crawling.tasks.requeue_stalled", interval=every, enabled=True
    )
    response = admin_client.post(
        "/admin/django_celery_beat/periodictask/",
        {"action": "disable_tasks", "_selected_action": [str(task.pk)]},
    )
    assert response.status_code == 302
    [event] = _events("admin.django_celery_beat.periodictask.changed", task)
    assert event.details["admin_action"] == "disable_tasks"
    assert {"field": "enabled", "old": True, "new": False} in event.details["changes"]


@one_row("audit × every registered admin (project and third-party)")
def test_every_admin_audits(row):
    """Input: the admin site's registry."""
    from django.contrib.admin.models import LogEntryManager

    # Django's private log manager is left as Django ships it: auditing is on the admins' own hooks.
    assert not getattr(LogEntryManager.log_actions, "_audited", False)
    from compliance.admin_audit import AuditedAdminMixin

    unaudited = [
        m._meta.label
        for m in sorted(admin.site._registry, key=lambda m: m._meta.label)
        if not isinstance(admin.site.get_model_admin(m), AuditedAdminMixin)
    ]
    assert unaudited == []


def test_admin_users_list_still_opens(admin_client):
    """Not a failing row: the admin pages of every model open (the read-only bases render)."""
    for model in admin.site._registry:
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        assert admin_client.get(url).status_code == 200, url
    assert User.objects.filter(email="root@facesearch.example").exists()


def test_authenticator_deletion_is_audited_without_its_secret(admin_client, dpo):
    """Guard: resetting a lost authenticator in admin is audited, and its secret stays out of the log."""
    authenticator = Authenticator.objects.get(user=dpo, type=Authenticator.Type.TOTP)
    secret = authenticator.data["secret"]
    response = admin_client.post(
        f"/admin/mfa/authenticator/{authenticator.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302
    [event] = _events("admin.mfa.authenticator.deleted", authenticator)
    assert {"field": "data", "redacted": True} in event.details["changes"]
    assert secret not in json.dumps(event.details)
