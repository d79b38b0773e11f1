"""Writes for crawling: sources and their approval (the lawfulness gate), crawl jobs, ingestion."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from compliance.services import audit_record
from config.tasks import enqueue, enqueue_on_commit
from crawling import extract, jurisdiction
from crawling.fetcher import Fetcher, FetchRefused, check_address, in_scope, scope_prefix_error
from crawling.models import Art6Basis, Art9Condition, CrawlItem, CrawlJob, Source


class CrawlRefused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- Sources ------------------------------------------------------------------------


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
    if actor is None or not actor.has_perm("accounts.approve_sources"):
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


# --- Imports --------------------------------------------------------------------------


def import_source_open(*, name: str, actor: Any = None) -> Source:
    """The approved local source an import goes into: the same lawfulness gate as a crawl.

    A refusal is audited (and committed) and raised as CrawlRefused with what to do next.
    """
    approve = "a data-protection officer approves it at /sources/ or with `manage.py source_approve --name NAME --as DPO_EMAIL`"
    how = (
        "Register it with `manage.py source_add --local --name NAME --jurisdiction CC --lawful-basis B --art9 C "
        f"--dpia REF` (add --approve-as DPO_EMAIL to approve it at once); otherwise {approve}."
    )
    with transaction.atomic():
        source = Source.objects.select_for_update().filter(name=name.strip()).first()
        if source is None:
            reason = f"No source named {name!r}. {how}"
        else:
            try:
                crawl_gate(source)
            except CrawlRefused as exc:
                reason = (
                    f"{exc.reason} To import into it, {approve}."
                    if source.status == Source.Status.PROPOSED
                    else exc.reason
                )
            else:
                reason = (
                    ""
                    if source.kind == Source.Kind.LOCAL
                    else (
                        f"{source.name!r} is a web source (crawled, not imported). Import into a local source. {how}"
                    )
                )
        if reason:
            audit_record(
                actor=actor,
                action="crawling.import.refused",
                target=source,
                outcome="refused",
                details={"source": name, "reason": reason},
            )
    if reason or source is None:
        raise CrawlRefused(reason)
    return source


def import_file_store(*, source: Source, data: bytes, original_name: str, actor: Any = None) -> Any:
    """Store one imported photo into ``source`` (its own file name only, never a server path)."""
    from search.services import source_image_store

    return source_image_store(
        data=data,
        source_label=source.name,
        source=source,
        original_name=original_name.replace("\\", "/").split("/")[-1],
        jurisdiction=(source.jurisdictions or [""])[0],
        actor=actor,
    )


def import_recorded(*, source: Source, summary: dict[str, Any], actor: Any = None) -> None:
    """The import's counts, on the audit log with the source (no file names or paths)."""
    audit_record(
        actor=actor,
        action="crawling.import.completed",
        target=source,
        outcome="success",
        details=summary,
    )


# --- Jobs ---------------------------------------------------------------------------------


def crawl_job_create(*, source: Source, actor: Any = None, ip: str | None = None) -> CrawlJob:
    """Start a crawl if the lawfulness gate lets it; a refusal is audited (and committed) too."""
    refusal = ""
    with transaction.atomic():
        source = Source.objects.select_for_update().get(
            pk=source.pk
        )  # the gate reads the current state
        try:
            _crawl_gate(source)
        except CrawlRefused as exc:
            refusal = exc.reason
            audit_record(
                actor=actor,
                action="crawling.job.refused",
                target=source,
                outcome="refused",
                ip=ip,
                details={"reason": exc.reason},
            )
        else:
            job = CrawlJob.objects.create(source=source, requested_by=actor)
            CrawlItem.objects.bulk_create(
                [CrawlItem(job=job, kind=CrawlItem.Kind.PAGE, url=u, depth=0) for u in source.scope]
            )
            audit_record(
                actor=actor, action="crawling.job.created", target=job, outcome="success", ip=ip
            )
            from crawling.tasks import crawl_job_run

            enqueue_on_commit(crawl_job_run, job.pk)
    if refusal:
        raise CrawlRefused(refusal)
    return job


@transaction.atomic
def crawl_job_set_status(
    *, job: CrawlJob, status: str, actor: Any, ip: str | None = None
) -> CrawlJob:
    """Pause, resume or cancel a job."""
    allowed: dict[str, set[str]] = {
        CrawlJob.Status.PAUSED: {CrawlJob.Status.QUEUED, CrawlJob.Status.RUNNING},
        CrawlJob.Status.QUEUED: {CrawlJob.Status.PAUSED},  # resume
        CrawlJob.Status.CANCELLED: {
            CrawlJob.Status.QUEUED,
            CrawlJob.Status.RUNNING,
            CrawlJob.Status.PAUSED,
        },
    }
    job = CrawlJob.objects.select_for_update().get(pk=job.pk)
    if status not in allowed or job.status not in allowed[status]:
        raise ValidationError(f"A {job.get_status_display().lower()} job cannot become {status}.")
    if status == CrawlJob.Status.QUEUED:
        # The gate reads the source as it is now, locked, so a change that withdraws its approval
        # (source_update) is either seen here or waits for this resume (whose job it then cancels).
        _crawl_gate(Source.objects.select_for_update().get(pk=job.source_id))
    job.status = status
    if status == CrawlJob.Status.CANCELLED:
        job.finished_at = timezone.now()
    job.save()
    audit_record(
        actor=actor,
        action=f"crawling.job.{ {'paused': 'paused', 'queued': 'resumed', 'cancelled': 'cancelled'}[status] }",
        target=job,
        outcome="success",
        ip=ip,
    )
    if status == CrawlJob.Status.QUEUED:
        from crawling.tasks import crawl_job_run

        enqueue_on_commit(crawl_job_run, job.pk)
    return job


def _record(job: CrawlJob, counts: Counter[str], skipped: Counter[str]) -> None:
    """Add this step's counts to the job (one runner per job at a time, so a row lock suffices)."""
    with transaction.atomic():
        locked = CrawlJob.objects.select_for_update().get(pk=job.pk)
        merged = Counter(locked.skipped)
        merged.update(skipped)
        CrawlJob.objects.filter(pk=job.pk).update(
            pages=F("pages") + counts["pages"],
            images_seen=F("images_seen") + counts["images_seen"],
            stored=F("stored") + counts["stored"],
            skipped=dict(merged),
            heartbeat_at=timezone.now(),
        )
    counts.clear()
    skipped.clear()


def crawl_job_run(*, job_id: int, budget_seconds: float = 60.0) -> bool:
    """Work through the job's frontier for up to ``budget_seconds``; True when more remains.

    The frontier lives in the database (``CrawlItem``), so a killed worker loses nothing and a
    resumed job never fetches an item twice.
    """
    with transaction.atomic():
        job = CrawlJob.objects.select_for_update().select_related("source").get(pk=job_id)
        if job.status not in (CrawlJob.Status.QUEUED, CrawlJob.Status.RUNNING):
            return False
        try:
            _crawl_gate(job.source)
        except CrawlRefused as exc:
            job.status, job.error, job.finished_at = (
                CrawlJob.Status.CANCELLED,
                exc.reason[:300],
                timezone.now(),
            )
            job.save()
            return False
        first = job.started_at is None
        job.status, job.heartbeat_at = CrawlJob.Status.RUNNING, timezone.now()
        job.started_at = job.started_at or timezone.now()
        job.save()
    source = job.source
    fetcher = Fetcher(
        scope=source.scope,
        rate=settings.CRAWL_RATE_OVERRIDE or source.crawl_rate,
        timeout=settings.CRAWL_TIMEOUT_SECONDS,
        max_bytes=settings.CRAWL_MAX_BYTES,
    )
    counts: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    stored_ids: list[int] = []
    deadline = time.monotonic() + budget_seconds
    try:
        if first:
            _seed_sitemaps(job, fetcher, skipped)
        while time.monotonic() < deadline:
            job.refresh_from_db(fields=["status"])
            if job.status != CrawlJob.Status.RUNNING:
                return False
            item = _next_item(job)
            if item is None:
                break
            if item.kind == CrawlItem.Kind.PAGE:
                _process_page(job, item, fetcher, counts, skipped)
            else:
                image_id = _process_image(job, item, fetcher, counts, skipped)
                if image_id:
                    stored_ids.append(image_id)
            if len(stored_ids) >= settings.FACE_BATCH_SIZE:
                _analyse_later(stored_ids)
                stored_ids = []
            _record(job, counts, skipped)
        else:
            return True
    finally:
        _record(job, counts, skipped)
        _analyse_later(stored_ids)
        fetcher.close()
    with transaction.atomic():
        job = CrawlJob.objects.select_for_update().get(pk=job.pk)
        if job.status == CrawlJob.Status.RUNNING:
            job.status, job.finished_at = CrawlJob.Status.DONE, timezone.now()
            job.save()
            audit_record(
                actor=None,
                action="crawling.job.completed",
                target=job,
                outcome="success",
                details={
                    "pages": job.pages,
                    "images_seen": job.images_seen,
                    "stored": job.stored,
                    "skipped": job.skipped,
                },
            )
    return False


def _analyse_later(ids: list[int]) -> None:
    if ids:
        from search.tasks import source_images_analyse

        batch = list(ids)
        enqueue_on_commit(source_images_analyse, batch)


def _next_item(job: CrawlJob) -> CrawlItem | None:
    # Images before pages keeps the frontier small; ids keep the order stable across restarts.
    return (
        CrawlItem.objects.filter(job=job, status=CrawlItem.Status.PENDING)
        .order_by("-kind", "id")  # "page" < "image" reversed: images first
        .first()
    )


def _finish(
    item: CrawlItem,
    status: str,
    reason: str = "",
    http_status: int | None = None,
    image_id: int | None = None,
) -> None:
    CrawlItem.objects.filter(pk=item.pk).update(
        status=status, reason=reason[:60], http_status=http_status, image_id=image_id
    )


def _enqueue(
    job: CrawlJob,
    *,
    kind: str,
    url: str,
    depth: int,
    referrer: str,
    lang: str,
    skipped: Counter[str],
) -> None:
    """Add a discovered URL to the frontier, or record why it was refused (never fetched)."""
    try:
        check_address(url)
    except FetchRefused as exc:
        reason = exc.code
    else:
        reason = "" if in_scope(url, job.source.scope) else "out_of_scope"
    if kind == CrawlItem.Kind.PAGE and not reason:
        if depth > job.source.max_depth:
            return
        if CrawlItem.objects.filter(job=job, kind=kind).count() >= job.source.page_limit:
            reason = "page_limit"
    _, created = CrawlItem.objects.get_or_create(
        job=job,
        kind=kind,
        url=url[:2000],
        defaults={
            "depth": depth,
            "referrer": referrer[:2000],
            "lang": lang[:20],
            "status": CrawlItem.Status.SKIPPED if reason else CrawlItem.Status.PENDING,
            "reason": reason,
        },
    )
    if created and reason:
        skipped[reason] += 1


def _seed_sitemaps(job: CrawlJob, fetcher: Fetcher, skipped: Counter[str]) -> None:
    origins = {f"{urlsplit(u).scheme}://{urlsplit(u).netloc}" for u in job.source.scope}
    for origin in sorted(origins):
        try:
            response = fetcher.fetch(origin + "/sitemap.xml", max_bytes=5 * 1024 * 1024)
        except FetchRefused:
            continue
        if response.status != 200:
            continue
        try:
            urls = extract.sitemap_urls(response.body)
        except extract.SitemapRejected as exc:
            # Recorded like any refused URL: the sitemap itself, skipped, with the reason.
            created = CrawlItem.objects.get_or_create(
                job=job,
                kind=CrawlItem.Kind.PAGE,
                url=(origin + "/sitemap.xml")[:2000],
                defaults={
                    "status": CrawlItem.Status.SKIPPED,
                    "reason": exc.code,
                    "http_status": response.status,
                },
            )[1]
            if created:
                skipped[exc.code] += 1
            continue
        for url in urls:
            if in_scope(url, job.source.scope):
                _enqueue(
                    job,
                    kind=CrawlItem.Kind.PAGE,
                    url=url,
                    depth=1,
                    referrer=origin + "/sitemap.xml",
                    lang="",
                    skipped=skipped,
                )


def _process_page(
    job: CrawlJob, item: CrawlItem, fetcher: Fetcher, counts: Counter[str], skipped: Counter[str]
) -> None:
    try:
        response = fetcher.fetch(item.url, max_bytes=5 * 1024 * 1024)
    except FetchRefused as exc:
        skipped[exc.code] += 1
        _finish(item, CrawlItem.Status.SKIPPED, exc.code)
        return
    counts["pages"] += 1
    if response.status >= 400:
        skipped[f"http_{response.status}"] += 1
        _finish(item, CrawlItem.Status.FAILED, f"http_{response.status}", response.status)
        return
    if "html" not in response.content_type:
        skipped["not_html"] += 1
        _finish(item, CrawlItem.Status.SKIPPED, "not_html", response.status)
        return
    facts = extract.page_facts(response.url, response.body)
    header_opt_out = response.robots_tokens() & extract_opt_out()
    meta_opt_out = facts.robots & extract_opt_out()
    images_allowed = not header_opt_out and not meta_opt_out
    for url in facts.images:
        if not images_allowed:
            reason = "x_robots_tag_opt_out" if header_opt_out else "meta_robots_opt_out"
            created = CrawlItem.objects.get_or_create(
                job=job,
                kind=CrawlItem.Kind.IMAGE,
                url=url[:2000],
                defaults={
                    "status": CrawlItem.Status.SKIPPED,
                    "reason": reason,
                    "referrer": response.url[:2000],
                },
            )[1]
            if created:
                counts["images_seen"] += 1
                skipped[reason] += 1
            continue
        before = CrawlItem.objects.filter(
            job=job, kind=CrawlItem.Kind.IMAGE, url=url[:2000]
        ).exists()
        _enqueue(
            job,
            kind=CrawlItem.Kind.IMAGE,
            url=url,
            depth=item.depth,
            referrer=response.url,
            lang=facts.lang,
            skipped=skipped,
        )
        if not before:
            counts["images_seen"] += 1
    if "nofollow" not in facts.robots:
        for url in facts.links:
            _enqueue(
                job,
                kind=CrawlItem.Kind.PAGE,
                url=url,
                depth=item.depth + 1,
                referrer=response.url,
                lang="",
                skipped=skipped,
            )
    _finish(item, CrawlItem.Status.DONE, "", response.status)


def extract_opt_out() -> set[str]:
    from crawling.fetcher import OPT_OUT_TOKENS

    return OPT_OUT_TOKENS


def _process_image(
    job: CrawlJob, item: CrawlItem, fetcher: Fetcher, counts: Counter[str], skipped: Counter[str]
) -> int | None:
    from search import engine
    from search.services import source_image_store
    from search.suppression import suppression_match

    def skip(reason: str, http_status: int | None = None) -> int | None:
        skipped[reason] += 1
        _finish(item, CrawlItem.Status.SKIPPED, reason, http_status)
        return None

    if suppression_match(page_url=item.referrer, image_url=item.url):
        return skip("suppressed")
    try:
        response = fetcher.fetch(item.url)
    except FetchRefused as exc:
        return skip(exc.code)
    if response.status >= 400:
        return skip(f"http_{response.status}", response.status)
    if response.robots_tokens() & extract_opt_out():
        return skip("x_robots_tag_opt_out", response.status)
    import hashlib

    digest = hashlib.sha256(response.body).hexdigest()
    found = jurisdiction.signals(
        declared=job.source.jurisdictions,
        page_url=item.referrer or item.url,
        lang=item.lang,
        image_bytes=response.body,
    )
    if jurisdiction.excluded_by(found):
        return skip("excluded_jurisdiction", response.status)
    if _near_duplicate(response.body, digest):
        return skip("near_duplicate", response.status)
    try:
        result = source_image_store(
            data=response.body,
            source_label=job.source.name,
            source=job.source,
            page_url=item.referrer,
            image_url=item.url,
            jurisdiction=(job.source.jurisdictions or [""])[0],
            fetched_at=timezone.now(),
            http_status=response.status,
        )
    except engine.ImageRejected as exc:
        return skip(f"image_{exc.code}", response.status)
    if result.skipped == "duplicate" and result.image is not None:
        return skip("duplicate", response.status)
    if result.image is None:
        return skip(result.skipped or "not_stored", response.status)
    _set_phash(result.image.pk, response.body)
    counts["stored"] += 1
    _finish(item, CrawlItem.Status.DONE, "", response.status, result.image.pk)
    # A photo analysed before it was stored (an objector's template is kept) is indexed already.
    return result.image.pk if result.analysed is None else None


def _phash(data: bytes) -> str:
    import io

    import imagehash
    from PIL import Image

    try:
        return str(imagehash.phash(Image.open(io.BytesIO(data)).convert("RGB")))
    except Exception:  # noqa: BLE001 - an unreadable image has no perceptual hash
        return ""


def _near_duplicate(data: bytes, digest: str) -> bool:
    """Another image with the same perceptual hash (resized or recompressed copy), but not the same bytes."""
    from search.models import SourceImage

    value = _phash(data)
    return (
        bool(value)
        and SourceImage.objects.filter(perceptual_hash=value).exclude(sha256=digest).exists()
    )


def _set_phash(image_id: int, data: bytes) -> None:
    from search.stewardship import source_image_perceptual_hash_set

    source_image_perceptual_hash_set(image_id=image_id, value=_phash(data))


def crawl_job_counts(job: CrawlJob) -> dict[str, Any]:
    """The job's counts as ``crawl --wait`` and the progress page show them."""
    from search.models import Face

    image_ids = CrawlItem.objects.filter(job=job, image__isnull=False).values_list(
        "image_id", flat=True
    )
    return {
        "job": job.pk,
        "source": job.source.name,
        "status": job.status,
        "pages": job.pages,
        "images_seen": job.images_seen,
        "stored": job.stored,
        "faces": Face.objects.filter(image_id__in=image_ids).count(),
        "skipped": dict(sorted(job.skipped.items())),
    }


def crawl_jobs_requeue_stalled(*, stalled_after_seconds: int = 300) -> int:
    """Re-enqueue running or queued jobs whose worker went away (no heartbeat)."""
    from datetime import timedelta

    from crawling.tasks import crawl_job_run

    cutoff = timezone.now() - timedelta(seconds=stalled_after_seconds)
    stalled = CrawlJob.objects.filter(
        status__in=[CrawlJob.Status.QUEUED, CrawlJob.Status.RUNNING]
    ).filter(heartbeat_at__lt=cutoff) | CrawlJob.objects.filter(
        status=CrawlJob.Status.QUEUED, heartbeat_at__isnull=True, created_at__lt=cutoff
    )
    ids = list(stalled.values_list("pk", flat=True))
    for job_id in ids:
        CrawlJob.objects.filter(pk=job_id).update(heartbeat_at=timezone.now())
        enqueue(crawl_job_run, job_id)
    return len(ids)
