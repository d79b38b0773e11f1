"""Org scoping: a user of another organisation gets 404 on our objects."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts import services
from accounts.models import Invitation, Membership, Role

pytestmark = pytest.mark.django_db


def test_stranger_gets_404_on_our_members_and_invitations(client, owner, teammate, stranger):
    invitation = services.invitation_create(
        organisation=owner.membership.organisation,
        email="x@example.com",
        role=Role.ANALYST,
        invited_by=owner,
    ).invitation
    client.force_login(stranger)
    membership = teammate.membership
    assert client.get(reverse("accounts:member_detail", args=[membership.pk])).status_code == 404
    assert (
        client.post(
            reverse("accounts:member_detail", args=[membership.pk]), {"role": Role.ORG_ADMIN}
        ).status_code
        == 404
    )
    assert client.post(reverse("accounts:member_remove", args=[membership.pk])).status_code == 404
    assert (
        client.post(reverse("accounts:invitation_revoke", args=[invitation.pk])).status_code == 404
    )
    membership.refresh_from_db()
    assert membership.role == Role.ANALYST
    assert Invitation.objects.get(pk=invitation.pk).status == Invitation.Status.PENDING
    # And the stranger's member list shows only their own organisation.
    page = client.get(reverse("accounts:members"))
    assert teammate.email.encode() not in page.content


def test_owner_manages_own_members(client, owner, teammate):
    client.force_login(owner)
    membership = teammate.membership
    assert client.get(reverse("accounts:member_detail", args=[membership.pk])).status_code == 200
    assert (
        client.post(
            reverse("accounts:member_detail", args=[membership.pk]), {"role": Role.ORG_ADMIN}
        ).status_code
        == 302
    )
    membership.refresh_from_db()
    assert membership.role == Role.ORG_ADMIN
    assert client.post(reverse("accounts:member_remove", args=[membership.pk])).status_code == 302
    assert not Membership.objects.filter(pk=membership.pk).exists()
    teammate.refresh_from_db()
    assert teammate.is_active is False


def test_analyst_gets_404_on_member_pages(client, owner, teammate):
    client.force_login(teammate)
    assert client.get(reverse("accounts:members")).status_code == 404
    assert (
        client.get(reverse("accounts:member_detail", args=[owner.membership.pk])).status_code == 404
    )


def test_user_without_organisation_gets_404_on_search(client, db):
    from tests.accounts import factories

    client.force_login(factories.user())
    assert client.get(reverse("search:index")).status_code == 404


def test_member_creates_two_tokens_and_revokes_one(client, teammate):
    import re

    from accounts.models import ApiToken
    from accounts.services import api_token_hash
    from compliance.models import AuditEvent

    client.force_login(teammate)
    first = client.post(reverse("accounts:api_token"), {"name": "Case system"})
    # Only the key's hash is stored: the key is read from the page that shows it once.
    key = re.search(r'<code class="token">([^<]+)</code>', first.content.decode()).group(1)
    assert ApiToken.objects.get(user=teammate).key_hash == api_token_hash(key)
    assert key.encode() not in client.get(reverse("accounts:api_token")).content  # shown once
    client.post(reverse("accounts:api_token"), {"name": "Nightly export"})
    tokens = ApiToken.objects.filter(user=teammate)
    assert sorted(tokens.values_list("name", flat=True)) == ["Case system", "Nightly export"]
    revoke = reverse("accounts:api_token_revoke", args=[tokens.get(name="Case system").pk])
    assert "Revoke the API token" in client.get(revoke).content.decode()  # asks first
    assert tokens.count() == 2
    client.post(revoke)
    assert list(tokens.values_list("name", flat=True)) == ["Nightly export"]
    actions = list(AuditEvent.objects.filter(actor_id=teammate.pk).values_list("action", flat=True))
    assert (
        actions.count("accounts.api_token.created") == 2 and "accounts.api_token.revoked" in actions
    )
    assert all(key not in str(e.details) for e in AuditEvent.objects.all())
