"""Named API tokens: several per user, an optional expiry within a maximum, "last used" written at
most once a minute, revoked in the UI after a confirmation (by the holder, or an admin of the
holder's organisation), every create and revoke audited; only the SHA-256 is stored."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import services
from accounts.models import ApiToken
from compliance.models import AuditEvent

pytestmark = pytest.mark.django_db

DETAIL = reverse("api-search-detail", args=[999999])  # no such search: 404 once authenticated
PAGE = reverse("accounts:api_token")


def api(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def revoke_url(token: ApiToken) -> str:
    return reverse("accounts:api_token_revoke", args=[token.pk])


def test_several_named_tokens_each_work_and_default_to_the_valid_days(teammate, settings):
    """Input: two tokens with names, no expiry given."""
    a = services.api_token_create(user=teammate, name="Case system")
    b = services.api_token_create(user=teammate, name="  Nightly   export ")
    assert b.token.name == "Nightly export"  # spaces tidied
    for created in (a, b):
        assert created.token.expires_at - created.token.created_at == timedelta(
            days=settings.API_TOKEN_VALID_DAYS
        )
        assert api(created.key).get(DETAIL).status_code == 404
    assert ApiToken.objects.filter(user=teammate).count() == 2
    events = AuditEvent.objects.filter(action="accounts.api_token.created")
    assert sorted(e.details["name"] for e in events) == ["Case system", "Nightly export"]
    assert all(a.key not in str(e.details) and b.key not in str(e.details) for e in events)


@pytest.mark.parametrize(
    ("name", "expires_in", "field"),
    [
        ("", None, "name"),
        ("   ", None, "name"),
        ("x" * 101, None, "name"),
        ("ok", timedelta(seconds=-1), "expires_at"),
        ("ok", timedelta(0), "expires_at"),
        ("ok", timedelta(days=366), "expires_at"),
    ],
    ids=["empty", "blank", "101-chars", "past", "now", "past-the-maximum"],
)
def test_bad_names_and_expiries_are_refused_and_nothing_is_stored(
    teammate, name, expires_in, field
):
    """Input: an empty, blank or 101-character name; an expiry in the past, now, or past 365 days."""
    expires_at = timezone.now() + expires_in if expires_in is not None else None
    with pytest.raises(ValidationError) as caught:
        services.api_token_create(user=teammate, name=name, expires_at=expires_at)
    assert field in caught.value.message_dict
    assert not ApiToken.objects.exists()
    assert not AuditEvent.objects.filter(action="accounts.api_token.created").exists()


def test_a_chosen_expiry_within_the_maximum_is_kept(teammate):
    """Input: an expiry 365 days away (the maximum) and one 7 days away."""
    for days in (365, 7):
        when = timezone.now() + timedelta(days=days) - timedelta(minutes=1)
        assert (
            services.api_token_create(
                user=teammate, name=f"{days}d", expires_at=when
            ).token.expires_at
            == when
        )


def test_the_database_refuses_a_blank_name(teammate):
    """Input: a row written around the service with an empty name."""
    with pytest.raises(IntegrityError), transaction.atomic():
        ApiToken.objects.create(
            user=teammate, name="", key_hash="0" * 64, expires_at=timezone.now() + timedelta(days=1)
        )


def test_a_user_holds_at_most_the_configured_number(teammate, settings):
    """Input: a third token when API_TOKENS_PER_USER is 2."""
    settings.API_TOKENS_PER_USER = 2
    services.api_token_create(user=teammate, name="one")
    services.api_token_create(user=teammate, name="two")
    with pytest.raises(ValidationError, match="revoke one first"):
        services.api_token_create(user=teammate, name="three")
    assert ApiToken.objects.filter(user=teammate).count() == 2


def test_last_used_is_written_at_most_once_a_minute(teammate):
    """Input: three requests in a row, then one after the stamp is 61 seconds old."""
    created = services.api_token_create(user=teammate, name="poller")
    assert created.token.last_used_at is None
    client = api(created.key)
    client.get(DETAIL)
    first = ApiToken.objects.get(pk=created.token.pk).last_used_at
    assert first is not None
    client.get(DETAIL)
    client.get(DETAIL)
    assert ApiToken.objects.get(pk=created.token.pk).last_used_at == first  # not every request
    old = first - timedelta(seconds=61)
    ApiToken.objects.filter(pk=created.token.pk).update(last_used_at=old)
    client.get(DETAIL)
    assert ApiToken.objects.get(pk=created.token.pk).last_used_at > first


def test_revoked_and_expired_tokens_are_refused(teammate):
    """Input: a token used after its revocation; another used a second after its expiry."""
    revoked = services.api_token_create(user=teammate, name="revoked")
    services.api_token_revoke(token=revoked.token, actor=teammate)
    answer = api(revoked.key).get(DETAIL)
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "authentication_failed"
    expired = services.api_token_create(user=teammate, name="expired")
    ApiToken.objects.filter(pk=expired.token.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    answer = api(expired.key).get(DETAIL)
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "token_expired"


def test_the_page_lists_creates_once_and_revokes_after_confirming(client, teammate):
    """Input: a create with a name and a date; the list; a GET of the revoke page; the POST."""
    client.force_login(teammate)
    day = (timezone.now() + timedelta(days=10)).date()
    made = client.post(PAGE, {"name": "Case system", "expires_on": day.isoformat()})
    assert made.status_code == 200 and "no-store" in made["Cache-Control"]
    key = re.search(r'<code class="token">([^<]+)</code>', made.content.decode()).group(1)
    token = ApiToken.objects.get(user=teammate)
    assert token.expires_at.date() == day and token.name == "Case system"
    api(key).get(DETAIL)
    page = client.get(PAGE).content.decode()
    assert key not in page and "Case system" in page and "never" not in page  # last used shown
    confirm = client.get(revoke_url(token))
    assert confirm.status_code == 200 and "Revoke the API token" in confirm.content.decode()
    assert ApiToken.objects.filter(pk=token.pk).exists()  # the GET asks, it does not revoke
    assert client.post(revoke_url(token)).status_code == 302
    assert not ApiToken.objects.filter(pk=token.pk).exists()
    event = AuditEvent.objects.get(action="accounts.api_token.revoked")
    assert event.actor_id == teammate.pk and event.details == {
        "token_id": token.pk,
        "name": "Case system",
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": ""}, "This field is required"),
        ({"name": "x" * 101}, "at most 100 characters"),
        ({"name": "ok", "expires_on": "2000-01-01"}, "must be in the future"),
        ({"name": "ok", "expires_on": "not a date"}, "Enter a valid date"),
    ],
    ids=["empty", "huge", "past", "garbage-date"],
)
def test_the_page_refuses_bad_input_with_a_clear_message(client, teammate, data, message):
    """Input: an empty or 101-character name, a date in 2000, a date that is not one."""
    client.force_login(teammate)
    answer = client.post(PAGE, data)
    assert answer.status_code == 400 and message in answer.content.decode()
    assert not ApiToken.objects.exists()


def test_another_users_token_id_is_404_and_stays(client, teammate, stranger, owner):
    """Input: a stranger (another organisation) and a colleague analyst revoking the owner's token."""
    token = services.api_token_create(user=owner, name="owner's").token
    for intruder in (stranger, teammate):
        client.force_login(intruder)
        assert client.get(revoke_url(token)).status_code == 404
        assert client.post(revoke_url(token)).status_code == 404
    assert client.post(reverse("accounts:api_token_revoke", args=[2**63])).status_code == 404
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_an_org_admin_revokes_a_members_token(client, owner, teammate):
    """Input: the org admin opens the member's page and revokes their token."""
    token = services.api_token_create(user=teammate, name="analyst script").token
    client.force_login(owner)
    member_page = client.get(reverse("accounts:member_detail", args=[teammate.membership.pk]))
    assert "analyst script" in member_page.content.decode()
    answer = client.post(revoke_url(token))
    assert answer.status_code == 302 and answer.url.endswith(
        reverse("accounts:member_detail", args=[teammate.membership.pk])
    )
    assert not ApiToken.objects.filter(pk=token.pk).exists()
    event = AuditEvent.objects.get(action="accounts.api_token.revoked")
    assert event.actor_id == owner.pk and event.target_id == str(teammate.pk)
    assert event.details["reason"] == "revoked_by_org_admin"
