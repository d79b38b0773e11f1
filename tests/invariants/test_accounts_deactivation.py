"""Invariant matrix, accounts: deactivated organisations and members, on every way in.

Each row causes the situation with the real services (PostgreSQL, Redis, storage, allauth's own
pages, real concurrent transactions) and asserts what a person would check: the page or API answer,
the rows, the emails, the audit log.

A deactivation below is done the way Django admin does it today (the flag saved on the row and
nothing else), so each row proves the refusal comes from the one rule every path asks
(``accounts.selectors.user_access_refusal`` / ``work_access_refusal``), not from a clean-up that
one path happens to run.
"""

# The matrix's row ids are "<guarantee> × <path>", as agreed for tests/invariants/.

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, TestCase
from django.urls import reverse

from accounts import services
from accounts.models import ApiToken, Invitation, Membership, Organisation, Role, User
from compliance.models import AuditEvent
from search.models import SearchRequest
from tests.accounts import factories
from tests.invariants.accounts_support import NEW_PASSWORD, PASSWORD, Org, error
from tests.search import photos

FIELDS = {
    "purpose": "Identify a fraud suspect",
    "lawful_basis": "legitimate_interests",
    "case_reference": "CASE-18",
}


def deactivate(org: Organisation) -> None:
    """What Django admin's organisation form does today: the flag saved on the row, nothing else."""
    org.is_active = False
    org.save(update_fields=["is_active"])


# --- Deactivated organisation × every way in ----------------------------------------------------------


def row_web_search(a: Org) -> None:
    """Input: the analyst's open browser session, the search page before and after the deactivation."""
    assert a.web.get(reverse("search:index")).status_code == 200
    deactivate(a.org)
    page = a.web.get(reverse("search:index"))
    assert page.status_code == 403
    assert "organisation is deactivated" in page.content.decode()
    # Logged out: the next page asks for a login; a search posted now creates nothing.
    assert a.web.get(reverse("search:index")).status_code == 302
    a.web.post(
        reverse("search:index"),
        {"image": SimpleUploadedFile("p.jpg", photos.photo("img2.jpg")), **FIELDS},
    )
    assert not SearchRequest.objects.exists()


def row_web_login(a: Org) -> None:
    """Input: a member of the deactivated organisation logs in again with the right password."""
    deactivate(a.org)
    browser = Client()
    response = browser.post(
        reverse("account_login"), {"login": a.analyst.email, "password": PASSWORD}
    )
    assert response.status_code == 403
    assert "organisation is deactivated" in response.content.decode()
    assert browser.get(reverse("home")).status_code == 302  # not logged in


def row_api_search(a: Org) -> None:
    """Input: the analyst's API token, a search posted with a real photo after the deactivation."""
    assert (
        a.api.get(reverse("api-search-detail", args=[999999])).status_code == 404
    )  # the token works before
    deactivate(a.org)
    response = a.api.post(
        reverse("api-search-create"),
        {"image": SimpleUploadedFile("p.jpg", photos.photo("img2.jpg")), **FIELDS},
        format="multipart",
    )
    assert response.status_code == 403
    assert error(response)["code"] == "organisation_deactivated"
    assert "deactivated" in error(response)["message"]
    assert not SearchRequest.objects.exists()


def row_api_session(a: Org) -> None:
    """Input: the API called with the browser session (not a token) after the deactivation."""
    deactivate(a.org)
    response = a.web.get(reverse("api-search-detail", args=[999999]))
    assert response.status_code == 403
    assert error(response)["code"] == "organisation_deactivated"


def row_invitation_send(a: Org) -> None:
    """Input: the org admin invites new@deact.example after the deactivation (web page, then the service)."""
    deactivate(a.org)
    page = a.owner_web.post(
        reverse("accounts:members"), {"email": "new@deact.example", "role": Role.ANALYST}
    )
    assert page.status_code == 403
    with pytest.raises(ValidationError, match="deactivated"):
        services.invitation_create(
            organisation=a.org, email="new@deact.example", role=Role.ANALYST, invited_by=a.owner
        )
    assert not Invitation.objects.exists()
    assert mail.outbox == []


def row_invitation_accept(a: Org) -> None:
    """Input: an invitation sent before the deactivation; its link opened before, signup posted after."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        sent = services.invitation_create(
            organisation=a.org, email="new@deact.example", role=Role.ANALYST, invited_by=a.owner
        )
    path = "/" + sent.url.split("://", 1)[1].split("/", 1)[1]
    browser = Client()
    assert browser.get(path).status_code == 302  # to signup, invitation remembered in the session
    deactivate(a.org)
    browser.post(
        reverse("account_signup"),
        {"email": "new@deact.example", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert not Membership.objects.filter(user__email="new@deact.example").exists()
    assert Client().get(path).status_code == 404
    with pytest.raises(ValidationError):
        services.invitation_accept(
            invitation_id=sent.invitation.pk, user=factories.user(email="new@deact.example")
        )


def row_queued_search(a: Org) -> None:
    """Input: a search accepted (queued) before the deactivation; the worker's task runs after it."""
    from search.tasks import search_process

    search = services_search_create(a.analyst)
    deactivate(a.org)
    with TestCase.captureOnCommitCallbacks(execute=True):
        search_process(search.pk)
    search.refresh_from_db()
    assert search.status == SearchRequest.Status.FAILED
    assert "deactivated" in search.error
    assert not search.probe  # the probe photo is deleted, never embedded
    assert not search.hits.exists()
    actions = set(
        AuditEvent.objects.filter(target_id=str(search.pk)).values_list("action", flat=True)
    )
    assert "search.search.refused" in actions
    assert "search.probe.embedded" not in actions


def services_search_create(user: User) -> SearchRequest:
    from search import services as search_services

    return search_services.search_create(user=user, image_data=photos.photo("img2.jpg"), **FIELDS)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "row",
    [
        pytest.param(row_web_search, id="deactivated organisation × web search"),
        pytest.param(row_web_login, id="deactivated organisation × login"),
        pytest.param(row_api_search, id="deactivated organisation × API search"),
        pytest.param(row_api_session, id="deactivated organisation × API with a session"),
        pytest.param(row_invitation_send, id="deactivated organisation × invitation send"),
        pytest.param(row_invitation_accept, id="deactivated organisation × invitation accept"),
        pytest.param(row_queued_search, id="deactivated organisation × queued search"),
    ],
)
def test_deactivated_organisation(acme: Org, row: Callable[[Org], None]) -> None:
    row(acme)


@pytest.fixture
def done_search(acme: Org):
    """A search run before the deactivation with the real model: img2 finds img1 (the same person)."""
    from search import services as search_services
    from tests.search.conftest import index_photos

    index_photos("img1.jpg")
    search = services_search_create(acme.analyst)
    with TestCase.captureOnCommitCallbacks(execute=True):
        search_services.search_process_probe(search_id=search.pk)
    search.refresh_from_db()
    assert search.status == SearchRequest.Status.DONE, search.error
    hit = search.hits.order_by("rank").first()
    assert hit is not None
    return search, hit.face_id


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("via", "url"),
    [
        pytest.param(
            "web",
            lambda s, f: reverse("search:detail", args=[s]),
            id="deactivated organisation × old results page",
        ),
        pytest.param(
            "web",
            lambda s, f: reverse("search:hit_thumbnail", args=[s, f]),
            id="deactivated organisation × old result crop",
        ),
        pytest.param(
            "api",
            lambda s, f: reverse("api-search-detail", args=[s]),
            id="deactivated organisation × API results",
        ),
        pytest.param(
            "api",
            lambda s, f: reverse("api-search-hit-crop", args=[s, f]),
            id="deactivated organisation × API result crop",
        ),
    ],
)
def test_deactivated_organisation_results(acme: Org, done_search, via: str, url) -> None:
    """Input: results and crops of a search made before the deactivation, opened again after it."""
    search, face_id = done_search
    client = acme.web if via == "web" else acme.api
    assert client.get(url(search.pk, face_id)).status_code == 200
    deactivate(acme.org)
    response = client.get(url(search.pk, face_id))
    assert response.status_code == 403
    if via == "api":
        assert error(response)["code"] == "organisation_deactivated"
    else:
        assert "organisation is deactivated" in response.content.decode()
        assert client.get(url(search.pk, face_id)).status_code == 302  # logged out


@pytest.mark.django_db
def test_deactivating_is_audited_and_revokes_tokens_and_invitations(acme: Org) -> None:
    """Input: the organisation deactivated with the service (``manage.py organisation_deactivate``)."""
    from django.core.management import call_command

    with TestCase.captureOnCommitCallbacks(execute=True):
        services.invitation_create(
            organisation=acme.org,
            email="new@deact.example",
            role=Role.ANALYST,
            invited_by=acme.owner,
        )
    call_command("organisation_deactivate", acme.org.slug, stdout=open(os.devnull, "w"))  # noqa: SIM115
    acme.org.refresh_from_db()
    assert acme.org.is_active is False
    assert (
        AuditEvent.objects.filter(
            action="accounts.organisation.deactivated", target_id=str(acme.org.pk)
        ).count()
        == 1
    )
    assert not ApiToken.objects.filter(user__membership__organisation=acme.org).exists()
    assert list(Invitation.objects.values_list("status", flat=True)) == [Invitation.Status.REVOKED]
    reasons = AuditEvent.objects.filter(action="accounts.api_token.revoked").values_list(
        "details", flat=True
    )
    assert {"reason": "organisation_deactivated"} in list(reasons)


# --- Deactivated member --------------------------------------------------------------------------------


def member_row_web(a: Org) -> None:
    """Input: the member's open browser session after their account is deactivated (no hooks run)."""
    User.objects.filter(pk=a.analyst.pk).update(is_active=False)
    assert (
        a.web.get(reverse("search:index")).status_code == 302
    )  # to login: the session is not theirs any more


def member_row_api(a: Org) -> None:
    """Input: the member's API token after their account is deactivated by a bulk update (no hooks run)."""
    User.objects.filter(pk=a.analyst.pk).update(is_active=False)
    response = a.api.get(reverse("api-search-detail", args=[999999]))
    assert response.status_code == 403
    assert error(response)["code"] == "account_deactivated"


def member_row_queued_search(a: Org) -> None:
    """Input: a search queued by the analyst, who is then removed from the organisation before it runs."""
    from search.tasks import search_process

    search = services_search_create(a.analyst)
    services.membership_remove(membership=a.analyst.membership, actor=a.owner)
    with TestCase.captureOnCommitCallbacks(execute=True):
        search_process(search.pk)
    search.refresh_from_db()
    assert search.status == SearchRequest.Status.FAILED
    assert not search.probe
    assert not AuditEvent.objects.filter(
        action="search.probe.embedded", target_id=str(search.pk)
    ).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "row",
    [
        pytest.param(member_row_web, id="deactivated member × web"),
        pytest.param(member_row_api, id="deactivated member × API"),
        pytest.param(member_row_queued_search, id="deactivated member × queued search"),
    ],
)
def test_deactivated_member(acme: Org, row: Callable[[Org], None]) -> None:
    row(acme)
