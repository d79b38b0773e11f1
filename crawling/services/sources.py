"""Sources: checked, added, updated, approved and suspended by the DPO; the gate every crawl passes."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.permissions import SOURCE_APPROVAL, is_dpo
from audit.services import audit_record
from config.errors import ApplicationError
from crawling import jurisdiction
from crawling.fetcher import scope_prefix_error
from crawling.models import Art6Basis, Art9Condition, CrawlJob, Source


class CrawlRefused(ApplicationError):
    """A source or crawl refused (not approved, suspended, out of scope). ``reason`` is ``message``."""

    default_code = "crawl_refused"


# What the DPO approves: a change to any of these sends an approved source back for approval. The
# database refuses such a change to a row that stays approved (trigger, migration 0003), so no path
# (admin, a page, a command, a shell) can keep an approval for something the DPO did not see.
SOURCE_APPROVED_FIELDS = [
    "name",
    "kind",
    "scope",
    "jurisdictions",
    "lawful_basis",
    "art9_condition",
    "dpia_reference",
    "crawl_rate",
    "page_limit",
    "max_depth",
]


def source_check(
    *,
    name: str,
    scope: list[str],
    jurisdictions: list[str],
    lawful_basis: str,
    art9_condition: str,
    dpia_reference: str,
    crawl_rate: float = 1.0,
    page_limit: int = 500,
    max_depth: int = 3,
    kind: str = Source.Kind.WEB,
) -> dict[str, Any]:
    """A source's declared fields, checked and normalised (``ValidationError`` by field otherwise)."""
    errors: dict[str, str] = {}
    scope = [s.strip() for s in scope or [] if s.strip()]
    if not (name or "").strip():
        errors["name"] = "Give the source a name."
    if kind not in Source.Kind.values:
        errors["kind"] = f"Choose one of {', '.join(Source.Kind.values)}."
    elif kind == Source.Kind.LOCAL and scope:
        errors["scope"] = "A local source has no URL scope: its photos are imported, not crawled."
    elif kind == Source.Kind.WEB and (not scope or any(map(scope_prefix_error, scope))):
        errors["scope"] = next(
            filter(None, map(scope_prefix_error, scope)), "Give one or more http(s) URL prefixes."
        )
    if lawful_basis not in Art6Basis.values:
        errors["lawful_basis"] = f"Choose one of {', '.join(Art6Basis.values)}."
    if art9_condition not in Art9Condition.values:
        errors["art9_condition"] = f"Choose one of {', '.join(Art9Condition.values)}."
    if not (dpia_reference or "").strip():
        errors["dpia_reference"] = "A DPIA reference is required."
    codes = [c.strip().upper() for c in jurisdictions or [] if c.strip()]
    if not codes:
        errors["jurisdictions"] = "Declare at least one jurisdiction (ISO 3166, e.g. FR or US-IL)."
    if crawl_rate is None or crawl_rate <= 0:
        errors["crawl_rate"] = "The crawl rate must be positive."
    if errors:
        raise ValidationError(errors)
    return {
        "name": name.strip(),
        "kind": kind,
        "scope": scope,
        "jurisdictions": codes,
        "lawful_basis": lawful_basis,
        "art9_condition": art9_condition,
        "dpia_reference": dpia_reference.strip(),
        "crawl_rate": crawl_rate,
        "page_limit": page_limit,
        "max_depth": max_depth,
    }


@transaction.atomic
def source_add(
    *,
    name: str,
    scope: list[str],
    jurisdictions: list[str],
    lawful_basis: str,
    art9_condition: str,
    dpia_reference: str,
    crawl_rate: float = 1.0,
    page_limit: int = 500,
    max_depth: int = 3,
    actor: Any = None,
    kind: str = Source.Kind.WEB,
) -> Source:
    """Register a source, proposed until a DPO approves it.

    A web source is crawled inside its URL scope; a local source (``kind="local"``) has no scope and
    receives files imported with ``import_images``. Both declare the same basis, condition,
    jurisdictions and DPIA, and pass the same gate.
    """
    values = source_check(
        name=name,
        scope=scope,
        jurisdictions=jurisdictions,
        lawful_basis=lawful_basis,
        art9_condition=art9_condition,
        dpia_reference=dpia_reference,
        crawl_rate=crawl_rate,
        page_limit=page_limit,
        max_depth=max_depth,
        kind=kind,
    )
    try:
        with transaction.atomic():
            source = Source.objects.create(**values)
    except IntegrityError as exc:
        raise ValidationError({"name": "A source with this name exists."}) from exc
    audit_record(
        actor=actor,
        action="crawling.source.added",
        target=source,
        outcome="success",
        details={
            "kind": kind,
            "scope": values["scope"],
            "jurisdictions": values["jurisdictions"],
            "lawful_basis": lawful_basis,
            "art9": art9_condition,
        },
    )
    return source


def _excluded_codes(codes: list[str]) -> list[str]:
    return [c for c in codes if jurisdiction.excluded_by({"source": [c]})]


def source_update_check(
    *, source: Source, changes: dict[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """The source's fields after ``changes``, checked, and the names of those that change (``ValidationError`` if refused)."""
    unknown = sorted(set(changes) - set(SOURCE_APPROVED_FIELDS))
    if unknown:
        raise ValidationError(
            f"These fields are not changed here: {', '.join(unknown)}. Approval and suspension are the DPO's."
        )
    current = {f: getattr(source, f) for f in SOURCE_APPROVED_FIELDS}
    values = source_check(**{**current, **changes})
    excluded = _excluded_codes(values["jurisdictions"])
    if set(excluded) - set(current["jurisdictions"]):
        raise ValidationError(
            {
                "jurisdictions": (
                    f"{', '.join(excluded)} is an excluded jurisdiction: a source declaring it cannot be approved or crawled. "
                    "Remove it, or suspend the source."
                )
            }
        )
    if (
        values["name"] != current["name"]
        and Source.objects.filter(name=values["name"]).exclude(pk=source.pk).exists()
    ):
        raise ValidationError({"name": "A source with this name exists."})
    return values, [f for f in SOURCE_APPROVED_FIELDS if values[f] != current[f]]


@transaction.atomic
def source_update(
    *, source: Source, changes: dict[str, Any], actor: Any, ip: str | None = None
) -> Source:
    """Change a source's declared fields: the one way every path (admin, the DPO's page, ``source_add
    --update``) changes a source.

    A change to anything the DPO approved sends an approved source back for approval: status
    proposed, approval cleared (a suspended one stays suspended, its approval cleared too), its
    queued, running and paused crawls cancelled, in the same
    transaction as the audit event (old and new values). A jurisdiction that is excluded is refused.
    """
    source = Source.objects.select_for_update().get(pk=source.pk)
    current = {f: getattr(source, f) for f in SOURCE_APPROVED_FIELDS}
    values, changed = source_update_check(source=source, changes=changes)
    if not changed:
        return source
    was = source.status
    for field in changed:
        setattr(source, field, values[field])
    withdrawn = was == Source.Status.APPROVED or source.approved_by_id is not None
    if withdrawn:
        # A suspended source stays suspended (its reason kept); either way the DPO approves it anew.
        source.approved_by, source.approved_at = None, None
        if was == Source.Status.APPROVED:
            source.status = Source.Status.PROPOSED
            source.status_reason = f"Changed after approval ({', '.join(changed)}): awaiting the DPO's approval again."[
                :300
            ]
    source.save()
    cancelled = 0
    if withdrawn:
        cancelled = CrawlJob.objects.filter(
            source=source,
            status__in=[CrawlJob.Status.QUEUED, CrawlJob.Status.RUNNING, CrawlJob.Status.PAUSED],
        ).update(
            status=CrawlJob.Status.CANCELLED,
            error="source changed: awaiting approval",
            finished_at=timezone.now(),
        )
    audit_record(
        actor=actor,
        action="crawling.source.changed",
        target=source,
        outcome="success",
        ip=ip,
        details={
            "fields": changed,
            "changes": [{"field": f, "old": current[f], "new": values[f]} for f in changed],
            "approval_withdrawn": withdrawn,
            "status": {"old": was, "new": source.status},
            "crawls_cancelled": cancelled,
        },
    )
    return source


def _require_dpo(actor: Any) -> None:
    if not is_dpo(actor, permission=SOURCE_APPROVAL):
        raise ValidationError("Only a data-protection officer can approve or suspend sources.")


@transaction.atomic
def source_approve(*, source: Source, actor: Any, ip: str | None = None) -> Source:
    _require_dpo(actor)
    source = Source.objects.select_for_update().get(pk=source.pk)
    excluded = [c for c in source.jurisdictions if jurisdiction.excluded_by({"source": [c]})]
    if excluded:
        raise ValidationError(
            f"The source declares an excluded jurisdiction ({', '.join(excluded)}): it cannot be approved."
        )
    source.status, source.approved_by, source.approved_at, source.status_reason = (
        Source.Status.APPROVED,
        actor,
        timezone.now(),
        "",
    )
    source.save()
    audit_record(
        actor=actor,
        action="crawling.source.approved",
        target=source,
        outcome="success",
        ip=ip,
        details={
            "lawful_basis": source.lawful_basis,
            "art9": source.art9_condition,
            "dpia": source.dpia_reference,
        },
    )
    return source


@transaction.atomic
def source_suspend(*, source: Source, actor: Any, reason: str, ip: str | None = None) -> Source:
    _require_dpo(actor)
    if not reason.strip():
        raise ValidationError("Give the reason for suspending the source.")
    source = Source.objects.select_for_update().get(pk=source.pk)
    source.status, source.status_reason = Source.Status.SUSPENDED, reason.strip()[:300]
    source.save()
    CrawlJob.objects.filter(
        source=source,
        status__in=[CrawlJob.Status.QUEUED, CrawlJob.Status.RUNNING, CrawlJob.Status.PAUSED],
    ).update(status=CrawlJob.Status.CANCELLED, error="source suspended", finished_at=timezone.now())
    audit_record(
        actor=actor,
        action="crawling.source.suspended",
        target=source,
        outcome="success",
        ip=ip,
        details={"reason": source.status_reason},
    )
    return source


def crawl_gate(source: Source) -> None:
    """The lawfulness gate: only approved sources with a recorded basis and Art 9 condition."""
    if source.status == Source.Status.SUSPENDED:
        raise CrawlRefused(f"The source is suspended: {source.status_reason or 'no reason given'}.")
    if source.status != Source.Status.APPROVED or not source.approved_by_id:
        raise CrawlRefused("The source has not been approved by the data-protection officer.")
    if not source.lawful_basis or not source.art9_condition or not source.dpia_reference:
        raise CrawlRefused("The source has no recorded lawful basis, Art 9 condition or DPIA.")


def _crawl_gate(source: Source) -> None:
    crawl_gate(source)
    if source.kind != Source.Kind.WEB:
        raise CrawlRefused(
            "This is a local source: its photos are imported with import_images, not crawled."
        )
