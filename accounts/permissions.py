"""The one check that someone may do a data-protection officer's work.

The DPO's work comes in three permissions (all held by the ``dpo`` group, see ``accounts.staff``):
the DPO's pages (``DPO_PAGES``: monitoring alerts and the like), data-subject requests
(``SUBJECT_REQUESTS``) and crawl sources (``SOURCE_APPROVAL``). Views, services and the capture review
ask ``dpo_required`` (raises ``PermissionDenied``) or ``is_dpo`` (a yes or no, for a service that
refuses in its own words); nobody re-implements the check.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

DPO_PAGES = "accounts.dpo_access"
SUBJECT_REQUESTS = "accounts.work_subject_requests"
SOURCE_APPROVAL = "accounts.approve_sources"


def is_dpo(user: object, *, permission: str = DPO_PAGES) -> bool:
    """Whether ``user`` is signed in and holds ``permission`` (one of the DPO's three)."""
    return (
        user is not None
        and bool(getattr(user, "is_authenticated", False))
        and bool(user.has_perm(permission))  # type: ignore[attr-defined]
    )


def dpo_required(*, user: object, permission: str = DPO_PAGES) -> None:
    """Raise ``PermissionDenied`` unless ``user`` holds ``permission``."""
    if not is_dpo(user, permission=permission):
        raise PermissionDenied
