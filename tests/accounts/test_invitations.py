"""Invitation-only signup: org admins invite, the link opens signup once, nobody else signs up."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts import services
from accounts.models import Invitation, Membership, Role, User
from compliance.models import AuditEvent

pytestmark = pytest.mark.django_db(transaction=True)

NEW_PASSWORD = "a long and unusual passphrase 7"


def _path(url: str) -> str:
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def _link_path(message) -> str:
    match = re.search(r"https?://[^/\s]+(/org/invitations/accept/[^\s]+/)", message.body)
    assert match, message.body
    return match.group(1)


def test_org_admin_invites_and_invitee_signs_up(client, owner):
    client.force_login(owner)
    response = client.post(
        reverse("accounts:members"), {"email": "New.Person@Example.com", "role": Role.ANALYST}
    )
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["new.person@example.com"]
    assert "Acme Investigations" in message.subject
    path = _link_path(message)
    invitation = Invitation.objects.get(email="new.person@example.com")
    # Only the hash of the link's secret is stored.
    assert path.rstrip("/").split("/")[-1] not in invitation.token_hash

    client.logout()
    landing = client.get(path)
    assert landing.status_code == 302
    assert landing["Location"].startswith(reverse("account_signup"))
    signup = client.post(
        reverse("account_signup"),
        {"email": "new.person@example.com", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert signup.status_code == 302, signup.content.decode()[:2000]
    user = User.objects.get(email="new.person@example.com")
    membership = Membership.objects.get(user=user)
    assert membership.organisation == owner.membership.organisation
    assert membership.role == Role.ANALYST
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.ACCEPTED
    assert invitation.accepted_by == user
    # The invited address counts as verified: the person is logged in and lands home.
    assert client.get(reverse("home")).status_code == 200
    actions = list(AuditEvent.objects.values_list("action", flat=True))
    assert "accounts.invitation.created" in actions
    assert "accounts.invitation.accepted" in actions

    # The link works once.
    client.logout()
    assert client.get(path).status_code == 404


def test_signup_is_closed_without_invitation(client):
    page = client.get(reverse("account_signup"))
    assert b"closed" in page.content.lower()
    client.post(
        reverse("account_signup"),
        {"email": "walk-in@example.com", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert not User.objects.filter(email="walk-in@example.com").exists()


def test_invitation_for_another_email_cannot_be_used_for_a_different_address(client, owner):
    sent = services.invitation_create(
        organisation=owner.membership.organisation,
        email="a@example.com",
        role=Role.ANALYST,
        invited_by=owner,
    )
    client.get(_path(sent.url))
    response = client.post(
        reverse("account_signup"),
        {"email": "b@example.com", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 200
    assert b"Use the address the invitation was sent to" in response.content
    assert not User.objects.filter(email="b@example.com").exists()


def test_expired_and_revoked_links_are_refused(client, owner):
    org = owner.membership.organisation
    expired = services.invitation_create(
        organisation=org, email="late@example.com", role=Role.ANALYST, invited_by=owner
    )
    Invitation.objects.filter(pk=expired.invitation.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    revoked = services.invitation_create(
        organisation=org, email="gone@example.com", role=Role.ANALYST, invited_by=owner
    )
    services.invitation_revoke(invitation=revoked.invitation, actor=owner)
    for sent in (expired, revoked):
        assert client.get(_path(sent.url)).status_code == 404
    assert services.invitations_expire() == 1
    assert Invitation.objects.get(pk=expired.invitation.pk).status == Invitation.Status.EXPIRED


def test_invitation_form_rejects_malformed_email_and_unknown_role(client, owner):
    client.force_login(owner)
    bad_email = client.post(
        reverse("accounts:members"), {"email": "not-an-email", "role": Role.ANALYST}
    )
    assert bad_email.status_code == 400
    bad_role = client.post(
        reverse("accounts:members"), {"email": "x@example.com", "role": "superuser"}
    )
    assert bad_role.status_code == 400
    assert not Invitation.objects.exists()
    assert mail.outbox == []


def test_inviting_twice_replaces_the_pending_invitation(client, owner):
    client.force_login(owner)
    client.post(reverse("accounts:members"), {"email": "twice@example.com", "role": Role.ANALYST})
    client.post(reverse("accounts:members"), {"email": "twice@example.com", "role": Role.ORG_ADMIN})
    pending = Invitation.objects.filter(email="twice@example.com", status=Invitation.Status.PENDING)
    assert pending.count() == 1
    assert pending.get().role == Role.ORG_ADMIN
    assert (
        Invitation.objects.filter(
            email="twice@example.com", status=Invitation.Status.REVOKED
        ).count()
        == 1
    )


def test_analyst_cannot_invite(client, teammate):
    client.force_login(teammate)
    assert (
        client.post(
            reverse("accounts:members"), {"email": "x@example.com", "role": Role.ANALYST}
        ).status_code
        == 404
    )
    assert not Invitation.objects.exists()


def test_last_org_admin_cannot_be_demoted(owner):
    with pytest.raises(Exception, match="at least one org admin"):
        services.membership_set_role(membership=owner.membership, role=Role.ANALYST, actor=owner)
