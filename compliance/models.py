"""Compliance records: retention, legal holds, sweeps, DPIAs, the email outbox.

The audit log itself lives in the ``audit`` app (``AuditEvent`` is re-exported here)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from audit.models import AuditEvent  # moved to the audit app; re-exported for callers

__all__ = ["AuditEvent"]


class DataClass(models.TextChoices):
    SOURCE_IMAGES = "source_images", "Source images"
    FACES = "faces", "Faces and embeddings"
    FACE_CROPS = "face_crops", "Face crops"
    PROBE_IMAGES = "probe_images", "Probe images"
    PROBE_EMBEDDINGS = "probe_embeddings", "Probe embeddings"
    SEARCH_RESULTS = "search_results", "Search results"
    SUBJECT_REQUESTS = "subject_requests", "Subject-request records"
    ACCESS_PACKAGES = "access_packages", "Access packages"
    AUDIT_EVENTS = "audit_events", "Audit events"


class RetentionAction(models.TextChoices):
    DELETE = "delete", "Delete"
    ANONYMISE = "anonymise", "Anonymise"


class RetentionPolicy(models.Model):
    """How long one class of data is kept, and what happens then. Edited by the DPO (audited)."""

    data_class = models.CharField(max_length=40, choices=DataClass.choices, unique=True)
    period_days = models.PositiveIntegerField()
    action = models.CharField(max_length=20, choices=RetentionAction.choices)
    reason = models.TextField(
        help_text="Why this period: the purpose it serves and the rule it follows."
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["data_class"]
        verbose_name_plural = "retention policies"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(period_days__gte=0), name="compliance_retention_period_nonneg"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_data_class_display()}: {self.period_days} days, then {self.get_action_display().lower()}"


class LegalHold(models.Model):
    """Blocks deletion of what it covers until released (litigation, a regulator's order)."""

    class Scope(models.TextChoices):
        ORGANISATION = "organisation", "A customer organisation's searches"
        SOURCE = "source", "A source's images and faces"
        FACE = "face", "One face and its image"
        REQUEST = "request", "A subject request"

    scope = models.CharField(max_length=20, choices=Scope.choices)
    organisation = models.ForeignKey(
        "accounts.Organisation", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    source_label = models.CharField(max_length=200, blank=True)
    face_id_held = models.BigIntegerField(null=True, blank=True, help_text="id of the face held")
    request_reference = models.CharField(max_length=100, blank=True)
    reason = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(scope="organisation", organisation__isnull=False)
                    | models.Q(scope="source") & ~models.Q(source_label="")
                    | models.Q(scope="face", face_id_held__isnull=False)
                    | models.Q(scope="request") & ~models.Q(request_reference="")
                ),
                name="compliance_legalhold_target_matches_scope",
            )
        ]

    def __str__(self) -> str:
        return f"legal hold {self.pk} ({self.get_scope_display()})"

    @property
    def is_active(self) -> bool:
        return self.released_at is None

    @property
    def target_label(self) -> str:
        """What the hold covers, readable: the organisation's or source's name, the face id, the request reference."""
        if self.scope == self.Scope.ORGANISATION:
            return (
                f"Organisation {self.organisation.name}"
                if self.organisation
                else "Organisation (removed)"
            )
        if self.scope == self.Scope.SOURCE:
            return f"Source {self.source_label}"
        if self.scope == self.Scope.FACE:
            return f"Face {self.face_id_held}"
        return f"Request {self.request_reference}"


class SweepReceipt(models.Model):
    """Evidence of one sweep: what class, how many rows and files, which time range, hashed ids."""

    class Kind(models.TextChoices):
        RETENTION = "retention", "Retention"
        JURISDICTION = "jurisdiction", "Jurisdiction"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    data_class = models.CharField(max_length=40)
    action = models.CharField(max_length=20)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    cutoff = models.DateTimeField(null=True, blank=True)
    affected = models.PositiveIntegerField(default=0)
    files_deleted = models.PositiveIntegerField(default=0)
    held = models.PositiveIntegerField(default=0)
    oldest = models.DateTimeField(null=True, blank=True)
    newest = models.DateTimeField(null=True, blank=True)
    ids_sha256 = models.CharField(max_length=64, help_text="SHA-256 of the sorted ids affected")
    parameters = models.JSONField(default=dict, blank=True)
    actor_label = models.CharField(max_length=254, default="system")

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.kind} sweep of {self.data_class} at {self.started_at:%Y-%m-%d %H:%M}"


class Dpia(models.Model):
    """The DPIA register (Art 35): one row per assessment, referenced by sources and purposes."""

    reference = models.CharField(max_length=50, unique=True)
    title = models.CharField(max_length=200)
    scope = models.TextField()
    status = models.CharField(
        max_length=20,
        choices=[("draft", "Draft"), ("approved", "Approved"), ("superseded", "Superseded")],
    )
    approved_at = models.DateField(null=True, blank=True)
    review_due = models.DateField(null=True, blank=True)
    document_url = models.URLField(blank=True)

    class Meta:
        ordering = ["reference"]
        verbose_name = "DPIA"

    def __str__(self) -> str:
        return f"{self.reference}: {self.title}"


class OutboundEmail(models.Model):
    """An email waiting to be sent: the durable outbox (compliance/outbox.py).

    Written in the same transaction as the change it reports, so a committed request always has
    its email; sent right after the commit, re-sent by a periodic task while the mail server or
    the queue is unreachable, and deleted once sent (the body can hold one-time links).
    """

    to = models.JSONField(default=list)
    subject = models.CharField(max_length=300)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"email #{self.pk} ({self.attempts} attempts)"
