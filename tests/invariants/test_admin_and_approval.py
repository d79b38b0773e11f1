"""Invariant matrix: Django admin cannot bypass the workflow, its changes are audited readably, and
what the DPO approved stays approved only while unchanged.

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
from io import StringIO

import pytest
from allauth.mfa.models import Authenticator
from django.contrib import admin
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction
from django.urls import reverse

from accounts.models import Organisation, User
from compliance.models import AuditEvent
from crawling import services as crawling
from crawling.models import CrawlJob, Source
from search.models import Face, ProbeFace, SearchHit, SearchRequest, SourceImage
from subjects.models import AccessPackage, Candidate, ErasureReceipt, SubjectRequest, Suppression
from tests.accounts import factories
from tests.search import photos
from tests.search.conftest import index_photos

pytestmark = pytest.mark.django_db


def one_row(row_id: str) -> pytest.MarkDecorator:
    """A table of one row: its id names the guarantee and the path."""
    return pytest.mark.parametrize("row", [pytest.param(row_id, id=row_id)])


@pytest.fixture
def root(db):
    user = factories.user(email="root@facesearch.example", is_staff=True, is_superuser=True)
    factories.with_totp(user)
    return user


@pytest.fixture
def admin_client(client, root):
    client.force_login(root)
    return client


@pytest.fixture(autouse=True)
def _no_crawl_worker(monkeypatch):
    """A crawl enqueued here must not reach a live worker: the rows check the gate, not the fetches."""
    from crawling import tasks

    monkeypatch.setattr(tasks.crawl_job_run, "delay", lambda *args, **kwargs: None)


def _face(status: str) -> Face:
    """A real face (img1.jpg through the face model), put in ``status`` as the workflow would have."""
    image = index_photos("img1.jpg", jurisdiction="FR")["img1.jpg"]
    face = image.faces.first()
    assert face is not None, "the face model found no face in img1.jpg"
    Face.objects.filter(pk=face.pk).update(status=status)
    face.refresh_from_db()
    return face


def _events(action: str, obj) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(
            action=action, target_type=obj._meta.label_lower, target_id=str(obj.pk)
        )
    )


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


# --- What the DPO approved × every path that changes a source -------------------------------------


def _approved(dpo) -> Source:
    source = crawling.source_add(
        name="News site",
        scope=["https://news.example.org/"],
        jurisdictions=["FR"],
        lawful_basis="legitimate_interests",
        art9_condition="manifestly_public",
        dpia_reference="DPIA-7",
    )
    source = crawling.source_approve(source=source, actor=dpo)
    assert source.status == Source.Status.APPROVED
    return source


def _admin_form(source: Source, **override) -> dict[str, str]:
    data = {
        "name": source.name,
        "kind": source.kind,
        "scope": json.dumps(source.scope),
        "jurisdictions": json.dumps(source.jurisdictions),
        "lawful_basis": source.lawful_basis,
        "art9_condition": source.art9_condition,
        "dpia_reference": source.dpia_reference,
        "crawl_rate": str(source.crawl_rate),
        "page_limit": str(source.page_limit),
        "max_depth": str(source.max_depth),
    }
    data.update(override)
    return data


def _assert_sent_back(source: Source, job: CrawlJob | None = None) -> None:
    source.refresh_from_db()
    assert source.status == Source.Status.PROPOSED
    assert source.approved_by_id is None and source.approved_at is None
    assert "awaiting" in source.status_reason
    with pytest.raises(crawling.CrawlRefused, match="not been approved"):
        crawling.crawl_job_create(source=source)
    if job is not None:
        job.refresh_from_db()
        assert job.status == CrawlJob.Status.CANCELLED
        assert crawling.crawl_job_run(job_id=job.pk) is False
    [event] = AuditEvent.objects.filter(
        action="crawling.source.changed", target_type="crawling.source", target_id=str(source.pk)
    )
    assert event.details["approval_withdrawn"] is True


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        pytest.param(
            "scope",
            json.dumps(["https://news.example.org/", "https://other.example/"]),
            ["https://news.example.org/", "https://other.example/"],
            id="DPO approval × admin source edit (scope)",
        ),
        pytest.param(
            "lawful_basis",
            "consent",
            "consent",
            id="DPO approval × admin source edit (lawful basis)",
        ),
        pytest.param(
            "art9_condition",
            "legal_claims",
            "legal_claims",
            id="DPO approval × admin source edit (Art 9 condition)",
        ),
        pytest.param(
            "dpia_reference",
            "DPIA-8",
            "DPIA-8",
            id="DPO approval × admin source edit (DPIA reference)",
        ),
        pytest.param("crawl_rate", "50", 50.0, id="DPO approval × admin source edit (crawl rate)"),
    ],
)
def test_admin_source_edit_sends_it_back_for_approval(admin_client, dpo, field, value, expected):
    """Input: one approved field changed on the source's admin form, with a crawl queued."""
    source = _approved(dpo)
    before = getattr(source, field)
    job = crawling.crawl_job_create(source=source, actor=dpo)
    response = admin_client.post(
        f"/admin/crawling/source/{source.pk}/change/", _admin_form(source, **{field: value})
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    source.refresh_from_db()
    assert getattr(source, field) == expected
    _assert_sent_back(source, job)
    [admin_event] = _events("admin.crawling.source.changed", source)
    assert field in admin_event.details["fields"] and "status" in admin_event.details["fields"]
    readable = {c["field"]: (c["old"], c["new"]) for c in admin_event.details["changes"]}
    assert readable[field] == (before, expected) and readable["status"] == ("approved", "proposed")


@one_row("DPO approval × admin source edit (jurisdiction to an excluded one)")
def test_admin_source_edit_to_an_excluded_jurisdiction_is_refused(row, admin_client, dpo):
    """Input: jurisdictions set to ["GB"]."""
    source = _approved(dpo)
    response = admin_client.post(
        f"/admin/crawling/source/{source.pk}/change/", _admin_form(source, jurisdictions='["GB"]')
    )
    assert response.status_code == 200
    assert "GB is an excluded jurisdiction" in response.content.decode()
    source.refresh_from_db()
    assert source.jurisdictions == ["FR"] and source.status == Source.Status.APPROVED


@one_row("DPO approval × source_add command")
def test_source_add_command_update_sends_it_back(row, dpo):
    """Input: ``source_add --update`` with a wider scope."""
    source = _approved(dpo)
    out = StringIO()
    call_command(
        "source_add",
        "--update",
        "--name",
        "News site",
        "--scope",
        "https://news.example.org/",
        "--scope",
        "https://x.example/",
        "--jurisdiction",
        "FR",
        "--lawful-basis",
        "legitimate_interests",
        "--art9",
        "manifestly_public",
        "--dpia",
        "DPIA-7",
        stdout=out,
    )
    assert json.loads(out.getvalue())["status"] == "proposed"
    source.refresh_from_db()
    assert source.scope == ["https://news.example.org/", "https://x.example/"]
    _assert_sent_back(source)


@one_row("DPO approval × import_images into a local source changed by source_add --update")
def test_import_into_a_changed_local_source_is_refused(row, tmp_path, dpo):
    """Input: an approved local source whose lawful basis ``source_add --local --update`` changes, then
    ``import_images`` of a real photo into it."""
    out = StringIO()
    common = [
        "--local",
        "--name",
        "press kit",
        "--jurisdiction",
        "FR",
        "--art9",
        "manifestly_public",
        "--dpia",
        "DPIA-3",
    ]
    call_command(
        "source_add",
        *common,
        "--lawful-basis",
        "legitimate_interests",
        "--approve-as",
        dpo.email,
        stdout=out,
    )
    assert json.loads(out.getvalue())["status"] == "approved"
    call_command("source_add", *common, "--lawful-basis", "consent", "--update", stdout=StringIO())
    (tmp_path / "img1.jpg").write_bytes(photos.photo("img1.jpg"))
    with pytest.raises(CommandError, match="not been approved"):
        call_command(
            "import_images",
            str(tmp_path),
            "--source",
            "press kit",
            stdout=StringIO(),
            stderr=StringIO(),
        )
    assert not SourceImage.objects.exists()
    _assert_sent_back(Source.objects.get(name="press kit"))


@one_row("DPO approval × DPO source form")
def test_dpo_source_form_sends_it_back(row, client, dpo):
    """Input: the lawful basis changed on /sources/<id>/edit/."""
    source = _approved(dpo)
    client.force_login(dpo)
    form = {
        "name": source.name,
        "scope": "https://news.example.org/",
        "jurisdictions": "FR",
        "lawful_basis": "public_task",
        "art9_condition": source.art9_condition,
        "dpia_reference": source.dpia_reference,
        "crawl_rate": "1",
        "page_limit": "500",
        "max_depth": "3",
    }
    response = client.post(reverse("crawling:edit", args=[source.pk]), form)
    assert response.status_code == 302
    source.refresh_from_db()
    assert source.lawful_basis == "public_task"
    _assert_sent_back(source)
    page = client.get(reverse("crawling:index"))
    assert "approval was withdrawn" in page.content.decode()


@one_row("excluded jurisdiction × DPO source form")
def test_dpo_source_form_refuses_an_excluded_jurisdiction(row, client, dpo):
    """Input: jurisdictions "FR, GB" on /sources/<id>/edit/."""
    source = _approved(dpo)
    client.force_login(dpo)
    form = {
        "name": source.name,
        "scope": "https://news.example.org/",
        "jurisdictions": "FR, GB",
        "lawful_basis": source.lawful_basis,
        "art9_condition": source.art9_condition,
        "dpia_reference": source.dpia_reference,
        "crawl_rate": "1",
        "page_limit": "500",
        "max_depth": "3",
    }
    response = client.post(reverse("crawling:edit", args=[source.pk]), form)
    assert response.status_code == 400
    assert "GB is an excluded jurisdiction" in response.content.decode()
    source.refresh_from_db()
    assert source.jurisdictions == ["FR"] and source.status == Source.Status.APPROVED


@pytest.mark.parametrize(
    "how",
    [
        pytest.param("queryset_update", id="DPO approval × QuerySet.update (shell, any code)"),
        pytest.param("model_save", id="DPO approval × Model.save (shell, any code)"),
    ],
)
def test_a_change_bypassing_the_service_is_refused(dpo, how):
    """Input: the scope of an approved source widened without the service, the row left approved."""
    source = _approved(dpo)
    with pytest.raises(IntegrityError, match="approval_guard"), transaction.atomic():
        if how == "queryset_update":
            Source.objects.filter(pk=source.pk).update(scope=["https://"])
        else:
            source.scope = ["https://"]
            source.save()
    source.refresh_from_db()
    assert source.scope == ["https://news.example.org/"] and source.status == Source.Status.APPROVED


def test_unchanged_save_keeps_the_approval(admin_client, dpo):
    """Not a failing row but its guard: saving the admin form unchanged keeps the approval (no false withdrawal)."""
    source = _approved(dpo)
    response = admin_client.post(f"/admin/crawling/source/{source.pk}/change/", _admin_form(source))
    assert response.status_code == 302
    source.refresh_from_db()
    assert source.status == Source.Status.APPROVED and source.approved_by_id == dpo.pk


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


def test_admin_adds_a_source_as_proposed(admin_client, dpo):
    """Guard: a source added in admin goes through source_add: proposed, audited, not crawlable."""
    form = {
        "name": "Added in admin",
        "kind": "web",
        "scope": '["https://added.example/"]',
        "jurisdictions": '["FR"]',
        "lawful_basis": "legitimate_interests",
        "art9_condition": "manifestly_public",
        "dpia_reference": "DPIA-9",
        "crawl_rate": "1",
        "page_limit": "500",
        "max_depth": "3",
    }
    response = admin_client.post("/admin/crawling/source/add/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    source = Source.objects.get(name="Added in admin")
    assert source.status == Source.Status.PROPOSED and source.approved_by_id is None
    assert _events("crawling.source.added", source) and _events(
        "admin.crawling.source.added", source
    )
    with pytest.raises(crawling.CrawlRefused, match="not been approved"):
        crawling.crawl_job_create(source=source)
