from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from accounts.selectors import membership_for, user_staff_groups


def roles(request: HttpRequest) -> dict[str, Any]:
    """What the navigation needs to show the right links for the user's role."""
    user = request.user
    if not user.is_authenticated:
        return {"nav": {"authenticated": False}}
    membership = membership_for(user=user)  # type: ignore[arg-type]
    groups = user_staff_groups(user=user)  # type: ignore[arg-type]
    return {
        "nav": {
            "authenticated": True,
            "membership": membership,
            "is_member": membership is not None,
            "is_org_admin": membership is not None and membership.is_org_admin,
            "is_dpo": "dpo" in groups or user.is_superuser,
            "is_auditor": "auditor" in groups or user.is_superuser,
            "is_admin": user.is_staff,
        }
    }
