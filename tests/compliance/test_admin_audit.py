"""Every change made in Django admin is audited, single and bulk."""

from __future__ import annotations

import pytest

from accounts.models import Organisation
from compliance.models import AuditEvent
from tests.accounts import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    admin = factories.user(email="root@facesearch.example", is_staff=True, is_superuser=True)
    factories.with_totp(admin)
    client.force_login(admin)
    return client


def test_admin_add_change_and_bulk_delete_are_audited(admin_client):
    response = admin_client.post(
        "/admin/accounts/organisation/add/",
        {
            "name": "Admin Org",
            "slug": "admin-org",
            "is_active": "on",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    org = Organisation.objects.get(slug="admin-org")
    added = AuditEvent.objects.get(
        action="admin.accounts.organisation.added",
        target_type="accounts.organisation",
        target_id=str(org.pk),
    )
    assert {c["field"]: c["new"] for c in added.details["changes"]}["name"] == "Admin Org"

    others = [factories.organisation() for _ in range(2)]
    ids = [str(o.pk) for o in others]
    response = admin_client.post(
        "/admin/accounts/organisation/",
        {"action": "delete_selected", "_selected_action": ids, "post": "yes"},
    )
    assert response.status_code == 302
    deleted = AuditEvent.objects.filter(action="admin.accounts.organisation.deleted")
    assert {e.target_id for e in deleted} == set(ids)
    assert {e.target_type for e in deleted} == {"accounts.organisation"}
    assert deleted.first().actor_label == "root@facesearch.example"
