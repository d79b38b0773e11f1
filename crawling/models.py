"""Crawl sources (approved by the DPO), crawl jobs and their durable frontier."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Art6Basis(models.TextChoices):
    LEGITIMATE_INTERESTS = "legitimate_interests", "Legitimate interests (Art 6(1)(f))"
    PUBLIC_TASK = "public_task", "Public task (Art 6(1)(e))"
    LEGAL_OBLIGATION = "legal_obligation", "Legal obligation (Art 6(1)(c))"
    CONSENT = "consent", "Consent (Art 6(1)(a))"


class Art9Condition(models.TextChoices):
    EXPLICIT_CONSENT = "explicit_consent", "Explicit consent (Art 9(2)(a))"
    MANIFESTLY_PUBLIC = (
        "manifestly_public",
        "Manifestly made public by the data subject (Art 9(2)(e))",
    )
    LEGAL_CLAIMS = "legal_claims", "Legal claims (Art 9(2)(f))"
    SUBSTANTIAL_PUBLIC_INTEREST = (
        "substantial_public_interest",
        "Substantial public interest (Art 9(2)(g))",
    )


class Source(models.Model):
    class Status(models.TextChoices):
        PROPOSED = "proposed", "Proposed (awaiting the DPO)"
        APPROVED = "approved", "Approved"
        SUSPENDED = "suspended", "Suspended"

    class Kind(models.TextChoices):
        WEB = "web", "Web pages, crawled"
        LOCAL = "local", "Files we hold, imported"

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.WEB)
    scope = models.JSONField(
        default=list,
        blank=True,
        help_text="URL prefixes the crawler may visit (and starts from); none for a local source",
    )
    jurisdictions = models.JSONField(
        default=list, help_text="ISO 3166 codes, e.g. ['FR'] or ['US-IL']"
    )
    lawful_basis = models.CharField(max_length=40, choices=Art6Basis.choices)
    art9_condition = models.CharField(max_length=40, choices=Art9Condition.choices)
    dpia_reference = models.CharField(max_length=50)
    crawl_rate = models.FloatField(default=1.0, help_text="requests per second per host")
    page_limit = models.PositiveIntegerField(default=500)
    max_depth = models.PositiveSmallIntegerField(default=3)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PROPOSED)
    status_reason = models.CharField(max_length=300, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(crawl_rate__gt=0), name="crawling_source_rate_positive"
            ),
            models.CheckConstraint(
                condition=~models.Q(dpia_reference=""), name="crawling_source_dpia_required"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CrawlJob(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        PAUSED = "paused", "Paused"
        CANCELLED = "cancelled", "Cancelled"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="jobs")
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    pages = models.PositiveIntegerField(default=0)
    images_seen = models.PositiveIntegerField(default=0)
    stored = models.PositiveIntegerField(default=0)
    skipped = models.JSONField(default=dict, blank=True)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"crawl {self.pk} of {self.source}"


class CrawlItem(models.Model):
    """The durable frontier: every page and image URL a job met, once (resumes without duplicates)."""

    class Kind(models.TextChoices):
        PAGE = "page", "Page"
        IMAGE = "image", "Image"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Done"
        SKIPPED = "skipped", "Skipped"
        FAILED = "failed", "Failed"

    job = models.ForeignKey(CrawlJob, on_delete=models.CASCADE, related_name="items")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    url = models.URLField(max_length=2000)
    depth = models.PositiveSmallIntegerField(default=0)
    referrer = models.URLField(max_length=2000, blank=True)
    lang = models.CharField(max_length=20, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    reason = models.CharField(max_length=60, blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    image = models.ForeignKey(
        "search.SourceImage", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "kind", "url"], name="crawling_item_unique_url")
        ]
        indexes = [models.Index(fields=["job", "status", "kind"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.url}"
