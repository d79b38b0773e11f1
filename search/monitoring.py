"""Monitoring guard: the same person searched again and again is monitoring, not investigation.

Two checks run when a search has its matches (docs/monitoring.md):

* **Hold on repeats** (``search_hold_if_repeat``): when the top match is a person the analyst's
  organisation searched before within ``MONITORING_WINDOW_DAYS``, the results are held until the
  analyst confirms and gives the case reference (``search_repeat_confirm``) or cancels. Earlier
  searches under the same case reference within ``MONITORING_SAME_CASE_WINDOW_DAYS`` do not make
  a repeat: working one case is investigation, and the alerts count distinct cases anyway.
* **Alerts** (``search_monitoring_check``): when a completed search's person was searched by one
  organisation under ``MONITORING_CASES_PER_ORGANISATION`` distinct case references, or by
  ``MONITORING_ORGANISATIONS`` organisations, within the window, an alert is raised (or the open
  one updated) and the DPO and the organisations' admins are told, in the app and by email.

"The same person" is the search's top match (already within the strict threshold) and every other
search whose top match lies within the strict threshold of that face. The product has no
confirmed face clusters for indexed people (the DPO confirms faces per subject request only), so
the embedding distance is the identity. An alert stores no face and no embedding: only links to
the searches, which already reference their matches.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import QuerySet
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership, Role, User
from audit.services import audit_record
from config.errors import ApplicationError
from outbox.services import email_enqueue
from search import selectors
from search.calibration import calibration_for
from search.models import MonitoringAlert, MonitoringAlertSearch, SearchRequest

logger = logging.getLogger(__name__)

# Any constant: every alert check takes this transaction-scoped advisory lock, so two workers that
# finish searches for the same person at the same moment cannot both open an alert.
_ALERT_LOCK_KEY = 0x6D6F6E69  # "moni"


def same_person_threshold(*, model: str) -> float:
    """The same-person threshold for ``model`` (``Calibration.same_person_threshold``, one comparison
    at a time, not the index-size search threshold): the one place the guard reads it."""
    return calibration_for(model).same_person_threshold()


def window_start(*, now: datetime | None = None) -> datetime:
    """Searches created at or after this instant are in the window."""
    return (now or timezone.now()) - timedelta(days=settings.MONITORING_WINDOW_DAYS)


def _top_face_id(search: SearchRequest) -> int | None:
    face_id: int | None = search.hits.filter(rank=1).values_list("face_id", flat=True).first()
    return face_id


def _same_person_search_ids(
    *, search: SearchRequest, statuses: list[str], organisation_id: int | None = None
) -> list[int]:
    face_id = _top_face_id(search)
    if face_id is None:
        return []
    return selectors.search_ids_of_same_person(
        face_id=face_id,
        model=search.model,
        max_distance=same_person_threshold(model=search.model),
        since=window_start(),
        statuses=statuses,
        organisation_id=organisation_id,
    )


def earlier_searches_of_same_person(*, search: SearchRequest) -> list[int]:
    """The organisation's other searches in the window whose top match is this search's person."""
    ids = _same_person_search_ids(
        search=search,
        statuses=[SearchRequest.Status.DONE, SearchRequest.Status.NEEDS_CONFIRMATION],
        organisation_id=search.organisation_id,
    )
    return [pk for pk in ids if pk != search.pk]


# --- Hold on repeats --------------------------------------------------------------------


def case_key(case_reference: str) -> str:
    """A case reference as the guard compares it: "AB-1" and " ab-1 " are one case."""
    return " ".join(case_reference.split()).casefold()


def repeats_under_other_cases(*, search: SearchRequest, earlier: list[int]) -> list[int]:
    """Of ``earlier`` (same organisation, same person), those that make ``search`` a repeat.

    A search under the same case reference within ``MONITORING_SAME_CASE_WINDOW_DAYS`` is the
    same investigation and is left out; one under another case, or an older one of the same
    case, still counts. A window of 0 days leaves nothing out (the guard as it was).
    """
    since = timezone.now() - timedelta(days=settings.MONITORING_SAME_CASE_WINDOW_DAYS)
    key = case_key(search.case_reference)
    rows = SearchRequest.objects.filter(pk__in=earlier).values_list(
        "pk", "case_reference", "created_at"
    )
    counted = {pk for pk, case, created in rows if case_key(case) != key or created < since}
    return [pk for pk in earlier if pk in counted]


class ConfirmationRefused(ApplicationError):
    """The search cannot be confirmed or cancelled now: not held (``not_held``, 409), or not this
    analyst's (``not_your_search``, 403)."""

    default_code = "not_held"
    default_status = 409


def search_hold_if_repeat(*, search: SearchRequest) -> bool:
    """Hold a search's results when its person was searched by the organisation before (in the window).

    Runs in the search's transaction after its hits are stored; returns True when it held them
    (status ``needs_confirmation``, audited), False when the search may complete. Earlier
    searches of the same case (``repeats_under_other_cases``) do not hold it.
    """
    if not settings.MONITORING_HOLD_REPEATS:
        return False
    earlier = repeats_under_other_cases(
        search=search, earlier=earlier_searches_of_same_person(search=search)
    )
    if not earlier:
        return False
    search.status = SearchRequest.Status.NEEDS_CONFIRMATION
    search.error = ""
    search.status_changed_at = timezone.now()
    search.save(update_fields=["status", "error", "status_changed_at"])
    audit_record(
        actor=None,
        action="search.search.held_as_repeat",
        target=search,
        outcome="held",
        details={"earlier_searches": earlier, "window_days": settings.MONITORING_WINDOW_DAYS},
    )
    return True


def _held_search_for(*, search_id: int, user: User) -> SearchRequest:
    search = SearchRequest.objects.select_for_update().get(pk=search_id)
    if search.status != SearchRequest.Status.NEEDS_CONFIRMATION:
        raise ConfirmationRefused(
            "This search is not waiting for a repeat-search confirmation.", code="not_held"
        )
    if search.user_id != user.pk:
        raise ConfirmationRefused(
            "Only the analyst who ran this search can confirm or cancel it.",
            code="not_your_search",
            status=403,
        )
    return search


@transaction.atomic
def search_repeat_confirm(
    *, search: SearchRequest, user: User, case_reference: str, ip: str | None = None
) -> SearchRequest:
    """The analyst confirms a held repeat search under ``case_reference``: the results are released.

    Raises ValidationError (no case reference) or ConfirmationRefused; nothing changes then. The
    confirmation is audited with the old and new case reference, and the alert check runs.
    """
    case_reference = (case_reference or "").strip()
    if not case_reference:
        raise ValidationError(
            {"case_reference": "Give the case reference this repeat search belongs to."}
        )
    if len(case_reference) > 100:
        raise ValidationError({"case_reference": "A case reference has at most 100 characters."})
    search = _held_search_for(search_id=search.pk, user=user)
    previous = search.case_reference
    now = timezone.now()
    search.case_reference = case_reference
    search.status = SearchRequest.Status.DONE
    search.status_changed_at = now
    search.completed_at = now
    search.save(update_fields=["case_reference", "status", "status_changed_at", "completed_at"])
    audit_record(
        actor=user,
        action="search.search.repeat_confirmed",
        target=search,
        outcome="success",
        ip=ip,
        details={
            "case_reference": case_reference,
            "previous_case_reference": previous,
            "hits": search.hits.count(),
        },
    )
    search_monitoring_check(search=search)
    return search


@transaction.atomic
def search_repeat_cancel(
    *, search: SearchRequest, user: User, ip: str | None = None
) -> SearchRequest:
    """The analyst withdraws a held repeat search: its matches are deleted unseen. Audited."""
    search = _held_search_for(search_id=search.pk, user=user)
    deleted, _ = search.hits.all().delete()
    now = timezone.now()
    search.status = SearchRequest.Status.FAILED
    search.error = "Cancelled at the repeat-search check; the results were not shown."
    search.status_changed_at = now
    search.completed_at = now
    search.save(update_fields=["status", "error", "status_changed_at", "completed_at"])
    audit_record(
        actor=user,
        action="search.search.repeat_cancelled",
        target=search,
        outcome="success",
        ip=ip,
        details={"hits_deleted": deleted},
    )
    return search


# --- Alerts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Counts:
    organisations: int
    max_case_references: int
    by_organisation: dict[int, set[str]]

    @property
    def over_threshold(self) -> bool:
        return (
            self.max_case_references >= settings.MONITORING_CASES_PER_ORGANISATION
            or self.organisations >= settings.MONITORING_ORGANISATIONS
        )


def _counts(search_ids: list[int]) -> _Counts:
    cases: dict[int, set[str]] = defaultdict(set)
    for org_id, case in SearchRequest.objects.filter(pk__in=search_ids).values_list(
        "organisation_id", "case_reference"
    ):
        cases[org_id].add(case_key(case))
    return _Counts(
        organisations=len(cases),
        max_case_references=max((len(c) for c in cases.values()), default=0),
        by_organisation=cases,
    )


def search_monitoring_check(*, search: SearchRequest) -> MonitoringAlert | None:
    """Raise or update the alert for a completed search's person when the thresholds are reached.

    Runs in the caller's transaction (the one that completes the search), so the alert, its
    audit event and its emails commit with the search or not at all. Searches already linked to
    a closed alert were reviewed by the DPO and do not count again.
    """
    if _top_face_id(search) is None:
        return None
    # Taken before counting: a search that completes at the same moment is then either counted
    # here (it committed first) or counts this one when its own check gets the lock.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ALERT_LOCK_KEY])
    ids = _same_person_search_ids(search=search, statuses=[SearchRequest.Status.DONE])
    reviewed = set(
        MonitoringAlertSearch.objects.filter(
            search_id__in=ids, alert__status=MonitoringAlert.Status.CLOSED
        ).values_list("search_id", flat=True)
    )
    ids = [pk for pk in ids if pk not in reviewed]
    counts = _counts(ids)
    if not counts.over_threshold:
        return None
    now = timezone.now()
    alert = (
        MonitoringAlert.objects.select_for_update()
        .filter(status=MonitoringAlert.Status.OPEN, links__search_id__in=ids)
        .order_by("created_at")
        .first()
    )
    if alert is None:
        alert = MonitoringAlert.objects.create(
            window_days=settings.MONITORING_WINDOW_DAYS,
            organisations=counts.organisations,
            max_case_references=counts.max_case_references,
            created_at=now,
            updated_at=now,
        )
        linked: set[int] = set()
        action = "search.monitoring_alert.raised"
    else:
        linked = set(alert.links.values_list("search_id", flat=True))
        action = "search.monitoring_alert.updated"
    new_ids = [pk for pk in ids if pk not in linked]
    if not new_ids:
        return alert
    told_orgs = set(
        SearchRequest.objects.filter(pk__in=linked).values_list("organisation_id", flat=True)
    )
    MonitoringAlertSearch.objects.bulk_create(
        [MonitoringAlertSearch(alert=alert, search_id=pk, added_at=now) for pk in new_ids]
    )
    total = _counts(sorted(linked | set(new_ids)))
    alert.organisations = total.organisations
    alert.max_case_references = total.max_case_references
    alert.updated_at = now
    alert.save(update_fields=["organisations", "max_case_references", "updated_at"])
    audit_record(
        actor=None,
        action=action,
        target=alert,
        outcome="success",
        details={
            "searches_added": new_ids,
            "organisations": total.organisations,
            "max_case_references": total.max_case_references,
            "window_days": settings.MONITORING_WINDOW_DAYS,
        },
    )
    _notify(
        alert=alert,
        raised=not linked,
        counts=total,
        new_orgs=set(total.by_organisation) - told_orgs,
    )
    return alert


def _notify(*, alert: MonitoringAlert, raised: bool, counts: _Counts, new_orgs: set[int]) -> None:
    """Email the DPO when an alert is raised, and each organisation's admins when it first concerns them.

    An organisation's admins hear only about their own organisation's searches, never another's.
    """
    site = settings.SITE_URL.rstrip("/")
    window = settings.MONITORING_WINDOW_DAYS
    if raised:
        staff = (
            User.objects.filter(groups__name="dpo", is_active=True)
            .exclude(email="")
            .values_list("email", flat=True)
        )
        # The DPO group's members and the DPO's contact mailbox (the one the public notice names).
        dpos = sorted({*staff, *([settings.DPO_EMAIL] if settings.DPO_EMAIL else [])})
        if dpos:
            email_enqueue(
                to=dpos,
                subject=f"Monitoring alert #{alert.pk}: one person searched repeatedly",
                body=(
                    f"One indexed person was searched by {counts.organisations} organisation(s), with at most "
                    f"{counts.max_case_references} distinct case reference(s) in one organisation, within "
                    f"{window} days.\n\nReview the searches and close the alert with a note:\n"
                    f"{site}{reverse('search:monitoring_alert', args=[alert.pk])}\n"
                ),
            )
        else:
            logger.warning(
                "monitoring alert %s raised but no active DPO has an email address", alert.pk
            )
    for org_id in sorted(new_orgs):
        admins = list(
            Membership.objects.filter(
                organisation_id=org_id, role=Role.ORG_ADMIN, user__is_active=True
            )
            .exclude(user__email="")
            .values_list("user__email", flat=True)
        )
        if not admins:
            continue
        own_cases = len(counts.by_organisation.get(org_id, ()))
        email_enqueue(
            to=admins,
            subject=f"Monitoring alert #{alert.pk}: your organisation searched one person repeatedly",
            body=(
                f"Your organisation searched the same person under {own_cases} case reference(s) within {window} "
                "days, or that person was also searched by other customers. Searching one person again and again "
                "is monitoring, not investigation; our data protection officer has been alerted and may ask you "
                f"about these searches.\n\nSee the alert: {site}{reverse('search:index')}#monitoring\n"
            ),
        )


@transaction.atomic
def monitoring_alert_close(
    *, alert: MonitoringAlert, user: User, note: str, ip: str | None = None
) -> MonitoringAlert:
    """The DPO closes an alert with a note (required). Audited; its searches no longer count."""
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": "Say what you found and why the alert can close."})
    alert = MonitoringAlert.objects.select_for_update().get(pk=alert.pk)
    if alert.status != MonitoringAlert.Status.OPEN:
        raise ValidationError("This alert is already closed.")
    alert.status = MonitoringAlert.Status.CLOSED
    alert.closed_at = timezone.now()
    alert.closed_by = user
    alert.close_note = note[:5000]
    alert.save(update_fields=["status", "closed_at", "closed_by", "close_note"])
    audit_record(
        actor=user,
        action="search.monitoring_alert.closed",
        target=alert,
        outcome="success",
        ip=ip,
        details={"note": alert.close_note, "searches": alert.links.count()},
    )
    return alert


# --- Reads ---------------------------------------------------------------------------------


def access_monitoring_alert(*, user: User, alert_id: int) -> MonitoringAlert:
    """An alert for the DPO; 404 for anyone else."""
    if not user.has_perm("accounts.dpo_access"):
        raise Http404
    alert = MonitoringAlert.objects.filter(pk=alert_id).first() if 0 < alert_id < 2**63 else None
    if alert is None:
        raise Http404
    return alert


def monitoring_alert_list(
    *, status: str | None = MonitoringAlert.Status.OPEN
) -> QuerySet[MonitoringAlert]:
    alerts = MonitoringAlert.objects.all()
    return alerts.filter(status=status) if status else alerts


def monitoring_alert_evidence(*, alert: MonitoringAlert) -> list[SearchRequest]:
    """The searches behind an alert, oldest first: organisation, case, dates, analyst (never the face)."""
    return list(alert.searches.select_related("organisation", "user").order_by("created_at", "pk"))


@dataclass(frozen=True)
class OrganisationAlert:
    alert_id: int
    status: str
    created_at: datetime
    searches: list[SearchRequest]


def organisation_alert_list(*, organisation_id: int) -> list[OrganisationAlert]:
    """Open alerts touching an organisation, each with only that organisation's searches."""
    alerts = MonitoringAlert.objects.filter(
        status=MonitoringAlert.Status.OPEN, links__search__organisation_id=organisation_id
    ).distinct()
    return [
        OrganisationAlert(
            alert_id=a.pk,
            status=a.status,
            created_at=a.created_at,
            searches=list(
                a.searches.filter(organisation_id=organisation_id)
                .select_related("user")
                .order_by("created_at")
            ),
        )
        for a in alerts.order_by("-created_at")
    ]


def monitoring_alert_count(*, since: datetime, until: datetime) -> int:
    """How many alerts were raised in [since, until): a number only, for public reports."""
    return MonitoringAlert.objects.filter(created_at__gte=since, created_at__lt=until).count()
