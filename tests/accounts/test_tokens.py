"""API tokens: no way around MFA, revoked (and audited) whenever the holder's access changes."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from rest_framework.test import APIClient

from accounts import services
from accounts.models import ApiToken, Membership, Role
from compliance.models import AuditEvent
from tests.accounts import factories

DETAIL = reverse("api-search-detail", args=[999999])  # no such search: 404 once past authentication


def token_client(user) -> tuple[APIClient, str]:
    key = factories.api_token(user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client, key


def revocations(user) -> list[dict]:
    return list(
        AuditEvent.objects.filter(
            action="accounts.api_token.revoked", target_id=str(user.pk)
        ).values_list("details", flat=True)
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "make",
    [
        pytest.param(
            lambda org: factories.member(org, role=Role.ORG_ADMIN), id="org-admin-without-totp"
        ),
        pytest.param(lambda org: factories.staff("dpo"), id="dpo-without-totp"),
        pytest.param(lambda org: factories.user(is_staff=True), id="admin-staff-without-totp"),
    ],
)
def test_token_of_a_role_that_needs_mfa_is_refused_until_mfa_is_enrolled(org, make):
    """Bad input: a valid token of a user whose role requires MFA but who never enrolled it."""
    user = make(org)
    client, _ = token_client(user)
    for response in (
        client.get(DETAIL),
        client.post(reverse("api-search-create"), {"purpose": "x"}, format="multipart"),
    ):
        assert response.status_code == 403
        error = response.json()["error"]
        assert error["code"] == "mfa_required"
        assert "two-factor" in error["message"]
    factories.with_totp(user)
    assert client.get(DETAIL).status_code == 404  # past the MFA gate now


@pytest.mark.django_db
def test_analyst_token_needs_no_mfa(teammate):
    client, _ = token_client(teammate)
    assert client.get(DETAIL).status_code == 404


@pytest.mark.django_db
def test_role_change_revokes_the_token_and_is_audited(owner, teammate):
    client, _ = token_client(teammate)
    services.membership_set_role(membership=teammate.membership, role=Role.ORG_ADMIN, actor=owner)
    assert not ApiToken.objects.filter(user=teammate).exists()
    assert revocations(teammate) == [{"reason": "role_changed"}]
    response = client.get(DETAIL)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


@pytest.mark.django_db
def test_setting_the_same_role_keeps_the_token(owner, teammate):
    """Bad input: a 'change' to the role the member already has is no change."""
    token_client(teammate)
    services.membership_set_role(membership=teammate.membership, role=Role.ANALYST, actor=owner)
    assert ApiToken.objects.filter(user=teammate).exists()
    assert revocations(teammate) == []


@pytest.mark.django_db
def test_removal_from_the_organisation_revokes_the_token_and_is_audited(owner, teammate):
    token_client(teammate)
    services.membership_remove(membership=teammate.membership, actor=owner)
    assert not ApiToken.objects.filter(user=teammate).exists()
    assert revocations(teammate) == [{"reason": "removed_from_organisation"}]


@pytest.mark.django_db
def test_removal_through_the_org_admin_page_revokes_the_token(client, owner, teammate):
    token_client(teammate)
    client.force_login(owner)
    response = client.post(reverse("accounts:member_remove", args=[teammate.membership.pk]))
    assert response.status_code in (200, 302)
    assert not ApiToken.objects.filter(user=teammate).exists()
    assert revocations(teammate)[0]["reason"] == "removed_from_organisation"


@pytest.fixture
def superuser(db):
    u = factories.user(is_staff=True, is_superuser=True, email="root@facesearch.example")
    factories.with_totp(u)
    return u


def _admin_user_form(user, **changes) -> dict:
    data = {
        "email": user.email,
        "name": user.name,
        "is_active": "on" if user.is_active else "",
        "is_staff": "on" if user.is_staff else "",
        "is_superuser": "on" if user.is_superuser else "",
        "groups": [str(g) for g in user.groups.values_list("pk", flat=True)],
        "user_permissions": [],
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v != ""}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        pytest.param({"is_active": ""}, "deactivated", id="deactivated-in-admin"),
        pytest.param({"is_staff": "on"}, "role_changed", id="made-staff-in-admin"),
        pytest.param({"groups": "GROUP"}, "role_changed", id="put-in-dpo-group-in-admin"),
    ],
)
def test_django_admin_changes_revoke_the_token_and_are_audited(
    client, superuser, teammate, changes, reason
):
    token_client(teammate)
    if changes.get("groups") == "GROUP":
        changes = {"groups": [str(Group.objects.get(name="dpo").pk)]}
    client.force_login(superuser)
    url = reverse("admin:accounts_user_change", args=[teammate.pk])
    response = client.post(url, _admin_user_form(teammate, **changes))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert not ApiToken.objects.filter(user=teammate).exists()
    events = AuditEvent.objects.filter(
        action="accounts.api_token.revoked", target_id=str(teammate.pk)
    )
    assert [e.details for e in events] == [{"reason": reason}]
    assert events.get().actor_id == superuser.pk


@pytest.mark.django_db
def test_django_admin_edit_without_access_change_keeps_the_token(client, superuser, teammate):
    """Bad input: an admin save that changes only the name must not revoke anything."""
    token_client(teammate)
    client.force_login(superuser)
    response = client.post(
        reverse("admin:accounts_user_change", args=[teammate.pk]),
        _admin_user_form(teammate, name="New Name"),
    )
    assert response.status_code == 302
    assert ApiToken.objects.filter(user=teammate).exists()


@pytest.mark.django_db
def test_django_admin_membership_inline_delete_and_role_change_revoke_tokens(
    client, superuser, org, owner, teammate
):
    other = factories.member(org, role=Role.ANALYST)
    token_client(teammate)
    token_client(other)
    memberships = list(Membership.objects.filter(organisation=org).order_by("pk"))
    data = {
        "name": org.name,
        "slug": org.slug,
        "is_active": "on",
        "memberships-TOTAL_FORMS": str(len(memberships)),
        "memberships-INITIAL_FORMS": str(len(memberships)),
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
    }
    for i, m in enumerate(memberships):
        data |= {
            f"memberships-{i}-id": str(m.pk),
            f"memberships-{i}-organisation": str(org.pk),
            f"memberships-{i}-user": str(m.user_id),
            f"memberships-{i}-role": Role.ORG_ADMIN if m.user_id == other.pk else m.role,
            f"memberships-{i}-created_at_0": m.created_at.strftime("%Y-%m-%d"),
            f"memberships-{i}-created_at_1": m.created_at.strftime("%H:%M:%S"),
        }
        if m.user_id == teammate.pk:
            data[f"memberships-{i}-DELETE"] = "on"
    client.force_login(superuser)
    response = client.post(reverse("admin:accounts_organisation_change", args=[org.pk]), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert not ApiToken.objects.filter(user__in=[teammate, other]).exists()
    assert revocations(teammate) == [{"reason": "removed_from_organisation"}]
    assert revocations(other) == [{"reason": "role_changed"}]
