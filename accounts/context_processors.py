from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from accounts.selectors import membership_for, user_staff_groups


def _nav(request: HttpRequest) -> dict[str, Any]:
    # Error pages can be rendered before AuthenticationMiddleware ran (a bad Host header).
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"authenticated": False}
    membership = membership_for(user=user)  # type: ignore[arg-type]
    groups = user_staff_groups(user=user)  # type: ignore[arg-type]
    return {
        "authenticated": True,
        "membership": membership,
        "is_member": membership is not None,
        "is_org_admin": membership is not None and membership.is_org_admin,
        "is_dpo": "dpo" in groups or user.is_superuser,
        "is_auditor": "auditor" in groups or user.is_superuser,
        "is_admin": user.is_staff,
    }


def roles(request: HttpRequest) -> dict[str, Any]:
    """What the navigation needs to show the right links for the user's role.

    Lazy: nothing is read (session, user, database) unless a template uses ``nav``, so the
    self-contained error pages render while the database is down.
    """
    return {"nav": SimpleLazyObject(lambda: _nav(request))}
