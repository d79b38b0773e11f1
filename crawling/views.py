"""DPO pages for sources and crawl jobs (live progress, pause, resume, cancel)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.http import AuthenticatedHttpRequest
from accounts.permissions import SOURCE_APPROVAL, dpo_required
from config.http import client_ip
from crawling import services
from crawling.forms import SourceEditForm
from crawling.models import CrawlJob, Source


@login_required
@require_GET
def index(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Sources awaiting review, approved and suspended, with their latest jobs."""
    dpo_required(user=request.user, permission=SOURCE_APPROVAL)
    sources = Source.objects.select_related("approved_by").prefetch_related("jobs")
    return render(request, "crawling/index.html", {"sources": sources})


def _source(source_id: int) -> Source:
    source = Source.objects.filter(pk=source_id).first()
    if source is None:
        raise Http404
    return source


@login_required
def source_edit(request: AuthenticatedHttpRequest, source_id: int) -> HttpResponse:
    """Change what a source declares; if it was approved, it goes back to the DPO for approval."""
    dpo_required(user=request.user, permission=SOURCE_APPROVAL)
    source = _source(source_id)
    form = SourceEditForm.for_source(source, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        was = source.status
        try:
            source = services.source_update(
                source=source, changes=form.changes(), actor=request.user, ip=client_ip(request)
            )
        except ValidationError as exc:
            for field, errors in (
                exc.message_dict.items() if hasattr(exc, "error_dict") else [(None, exc.messages)]
            ):
                form.add_error(field if field in form.fields else None, errors)
        else:
            if was == Source.Status.APPROVED and source.status != Source.Status.APPROVED:
                messages.warning(
                    request,
                    "Source changed. Its approval was withdrawn: approve it again to crawl or import.",
                )
            else:
                messages.success(request, "Source changed.")
            return redirect("crawling:index")
    return render(
        request,
        "crawling/source_edit.html",
        {"source": source, "form": form},
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def source_approve(request: AuthenticatedHttpRequest, source_id: int) -> HttpResponse:
    dpo_required(user=request.user, permission=SOURCE_APPROVAL)
    try:
        services.source_approve(
            source=_source(source_id), actor=request.user, ip=client_ip(request)
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Source approved.")
    return redirect("crawling:index")


@login_required
@require_POST
def source_suspend(request: AuthenticatedHttpRequest, source_id: int) -> HttpResponse:
    dpo_required(user=request.user, permission=SOURCE_APPROVAL)
    try:
        services.source_suspend(
            source=_source(source_id),
            actor=request.user,
            reason=request.POST.get("reason", ""),
            ip=client_ip(request),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Source suspended; its running crawls were cancelled.")
    return redirect("crawling:index")


@login_required
@require_POST
def crawl_start(request: AuthenticatedHttpRequest, source_id: int) -> HttpResponse:
    dpo_required(user=request.user, permission=SOURCE_APPROVAL)
    try:
        job = services.crawl_job_create(
            source=_source(source_id), actor=request.user, ip=client_ip(request)
        )
    except services.CrawlRefused as exc:
        messages.error(request, f"Crawl refused: {exc.reason}")
        return redirect("crawling:index")
    return redirect("crawling:job", job_id=job.pk)


def _job(job_id: int) -> CrawlJob:
    job = CrawlJob.objects.select_related("source").filter(pk=job_id).first()
    if job is None:
        raise Http404
    return job


@login_required
@require_GET
def job_detail(request: AuthenticatedHttpRequest, job_id: int) -> HttpResponse:
    dpo_required(user=request.user, permission=SOURCE_APPROVAL)
    job = _job(job_id)
    template = "crawling/_job_progress.html" if request.htmx else "crawling/job.html"  # type: ignore[attr-defined]
    return render(
        request,
        template,
        {"job": job, "counts": services.crawl_job_counts(job), "Status": CrawlJob.Status},
    )


@login_required
@require_POST
def job_control(request: AuthenticatedHttpRequest, job_id: int) -> HttpResponse:
    dpo_required(user=request.user, permission=SOURCE_APPROVAL)
    status = {
        "pause": CrawlJob.Status.PAUSED,
        "resume": CrawlJob.Status.QUEUED,
        "cancel": CrawlJob.Status.CANCELLED,
    }.get(request.POST.get("action", ""))
    if status is None:
        return HttpResponse("Unknown action.", status=400)
    try:
        services.crawl_job_set_status(
            job=_job(job_id), status=status, actor=request.user, ip=client_ip(request)
        )
    except (ValidationError, services.CrawlRefused) as exc:
        messages.error(request, str(exc))
    return redirect("crawling:job", job_id=job_id)
