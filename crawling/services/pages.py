"""One crawl step: a page's links and images queued within scope, an image fetched, deduplicated and stored."""

from __future__ import annotations

import hashlib
import io
from collections import Counter
from urllib.parse import urlsplit

import imagehash
from django.utils import timezone
from PIL import Image

from crawling import extract, jurisdiction
from crawling.fetcher import OPT_OUT_TOKENS, Fetcher, FetchRefused, check_address, in_scope
from crawling.models import CrawlItem, CrawlJob
from search import engine
from search.models import SourceImage
from search.services import source_image_store
from search.stewardship import source_image_perceptual_hash_set
from search.suppression import suppression_match


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

    return OPT_OUT_TOKENS


def _process_image(
    job: CrawlJob, item: CrawlItem, fetcher: Fetcher, counts: Counter[str], skipped: Counter[str]
) -> int | None:

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

    try:
        return str(imagehash.phash(Image.open(io.BytesIO(data)).convert("RGB")))
    except Exception:  # noqa: BLE001 - an unreadable image has no perceptual hash
        return ""


def _near_duplicate(data: bytes, digest: str) -> bool:
    """Another image with the same perceptual hash (resized or recompressed copy), but not the same bytes."""

    value = _phash(data)
    return (
        bool(value)
        and SourceImage.objects.filter(perceptual_hash=value).exclude(sha256=digest).exists()
    )


def _set_phash(image_id: int, data: bytes) -> None:

    source_image_perceptual_hash_set(image_id=image_id, value=_phash(data))
