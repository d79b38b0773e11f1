"""accounts.permissions: the one DPO check, with real users and real permissions (groups from the
staff migration), and the callers that now ask it."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied

from accounts import permissions
from subjects.selectors import dpo_required as subjects_dpo_required


@pytest.mark.django_db
def test_the_dpo_holds_all_three_dpo_permissions(dpo):
    """Input: the DPO staff user. Expect: is_dpo true for each of the three permissions, no refusal."""
    for permission in (
        permissions.DPO_PAGES,
        permissions.SUBJECT_REQUESTS,
        permissions.SOURCE_APPROVAL,
    ):
        assert permissions.is_dpo(dpo, permission=permission)
        permissions.dpo_required(user=dpo, permission=permission)


@pytest.mark.django_db
def test_others_are_refused(teammate, owner, auditor):
    """Input: an analyst, an organisation admin, the auditor, an anonymous visitor and None.
    Expect: is_dpo false and dpo_required raises PermissionDenied, for every DPO permission."""
    for user in (teammate, owner, auditor, AnonymousUser(), None):
        for permission in (permissions.DPO_PAGES, permissions.SUBJECT_REQUESTS):
            assert not permissions.is_dpo(user, permission=permission)
            with pytest.raises(PermissionDenied):
                permissions.dpo_required(user=user, permission=permission)
        with pytest.raises(PermissionDenied):
            subjects_dpo_required(user=user)


@pytest.mark.django_db
def test_an_inactive_dpo_is_refused(dpo):
    """Input: the DPO's account deactivated. Expect: no DPO permission any more (Django's backend
    gives an inactive user none), so the check refuses."""
    dpo.is_active = False
    dpo.save(update_fields=["is_active"])
    dpo = type(dpo).objects.get(pk=dpo.pk)
    assert not permissions.is_dpo(dpo, permission=permissions.SUBJECT_REQUESTS)
    with pytest.raises(PermissionDenied):
        subjects_dpo_required(user=dpo)
