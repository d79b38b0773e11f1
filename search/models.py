"""The face store: source images, faces with embeddings, customer searches and their hits.

Embeddings live in ``search_face`` apart from image metadata; they are never logged and never
returned to customers. The embedding column has no fixed dimension so that several models can
coexist; each model has its own partial HNSW index over ``embedding::vector(<dims>)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import models
from django.utils import timezone
from pgvector.django import VectorField


class SourceImage(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for the face model"
        PROCESSING = "processing", "Being analysed"
        DONE = "done", "Faces indexed"
        NO_FACE = "no_face", "No usable face"
        FAILED = "failed", "Failed"

    file = models.FileField(upload_to="sources/%Y/%m/", max_length=300)
    sha256 = models.CharField(max_length=64, unique=True)
    perceptual_hash = models.CharField(max_length=16, blank=True, db_index=True)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    format = models.CharField(max_length=10)
    byte_size = models.PositiveIntegerField()
    # Provenance (the crawler fills the URLs; an import records the file's own name, never a server path).
    source_label = models.CharField(max_length=200)
    # The approved source (crawled or imported) whose declarations cover this photo.
    source = models.ForeignKey(
        "crawling.Source", null=True, blank=True, on_delete=models.PROTECT, related_name="images"
    )
    page_url = models.URLField(max_length=2000, blank=True)
    image_url = models.URLField(max_length=2000, blank=True)
    original_name = models.CharField(
        max_length=255, blank=True, help_text="file name of an imported photo"
    )
    fetched_at = models.DateTimeField(null=True, blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    jurisdiction = models.CharField(
        max_length=10, blank=True, help_text="ISO 3166 code, e.g. FR or US-IL"
    )
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    status_changed_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Art 17(3)(e): a photo an erasure request covers while a legal hold also covers it is kept,
    # its faces restricted, until the hold ends; then the retention sweep erases it (search.retention).
    erasure_reference = models.CharField(
        max_length=20,
        blank=True,
        default="",
        help_text="erasure request waiting for a legal hold to end",
    )
    erasure_requested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "status_changed_at"])]

    def __str__(self) -> str:
        return f"image {self.pk} ({self.source_label})"

    @property
    def provenance(self) -> Provenance:
        """Where the photo came from, fit to show anyone: web links only, never a server path."""
        return Provenance(
            source=self.source_label,
            page_url=_web_url(self.page_url),
            image_url=_web_url(self.image_url),
            file_name=self.original_name,
        )


@dataclass(frozen=True)
class Provenance:
    source: str
    page_url: str
    image_url: str
    file_name: str

    def as_dict(self) -> dict[str, str]:
        return {
            "source": self.source,
            "page_url": self.page_url,
            "image_url": self.image_url,
            "file_name": self.file_name,
        }


def _web_url(url: str) -> str:
    return url if url.lower().startswith(("http://", "https://")) else ""


class Face(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        RESTRICTED = "restricted", "Restricted (Art 18): kept, never returned"
        SUPPRESSED = "suppressed", "Suppressed (objection)"

    image = models.ForeignKey(SourceImage, on_delete=models.CASCADE, related_name="faces")
    box_x = models.PositiveIntegerField()
    box_y = models.PositiveIntegerField()
    box_w = models.PositiveIntegerField()
    box_h = models.PositiveIntegerField()
    detection_score = models.FloatField()
    crop = models.FileField(upload_to="crops/%Y/%m/", max_length=300)
    embedding = VectorField()
    model = models.CharField(max_length=40)
    detector = models.CharField(max_length=40)
    # engine.pipeline_version() that embedded this face; blank: before versions were recorded
    # ("dlib-1"). Faces of an older version are re-analysed after an upgrade (docs/faces.md).
    pipeline = models.CharField(max_length=60, blank=True, default="")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    jurisdiction = models.CharField(max_length=10, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["model", "status"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["active", "restricted", "suppressed"]),
                name="search_face_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"face {self.pk} in image {self.image_id}"


class Suppression(models.Model):
    """One objector's entry: hashes of URLs and image content, or a face template kept only with
    the person's explicit consent. The crawler and the import check it before storing anything.

    It sits beside ingestion, which reads it (search.suppression); only search.stewardship writes it.
    The table keeps its original name (it was created by the subjects app).
    """

    class Kind(models.TextChoices):
        PAGE_URL = "page_url", "Page URL (SHA-256)"
        IMAGE_URL = "image_url", "Image URL (SHA-256)"
        IMAGE = "image", "Image content (SHA-256)"
        TEMPLATE = "template", "Face template (with explicit consent)"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    value_sha256 = models.CharField(max_length=64)
    template = VectorField(null=True, blank=True)
    model = models.CharField(max_length=40, blank=True)
    request_reference = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "subjects_suppression"
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "value_sha256"], name="subjects_suppression_unique"
            )
        ]

    def __str__(self) -> str:
        return f"suppression {self.kind}"


class LawfulBasis(models.TextChoices):
    """Art 6 bases a customer may rely on for a search; the Art 9 condition is the customer's contract."""

    LEGAL_OBLIGATION = "legal_obligation", "Legal obligation (Art 6(1)(c))"
    PUBLIC_TASK = "public_task", "Public task (Art 6(1)(e))"
    LEGITIMATE_INTERESTS = "legitimate_interests", "Legitimate interests (Art 6(1)(f))"
    VITAL_INTERESTS = "vital_interests", "Vital interests (Art 6(1)(d))"


class AccessRestrictionBasis(models.TextChoices):
    """The legal restriction of the right of access (GDPR Art 23) a customer may claim for a search."""

    CRIME = (
        "crime",
        "Prevention, investigation or prosecution of crime (Art 23(1)(d); e.g. UK DPA 2018 Sch 2 para 2)",
    )
    NATIONAL_SECURITY = "national_security", "National security or defence (Art 23(1)(a)-(b))"
    JUDICIAL_PROCEEDINGS = (
        "judicial_proceedings",
        "Judicial independence and proceedings (Art 23(1)(f))",
    )
    REGULATORY = "regulatory", "Regulatory or supervisory function (Art 23(1)(h))"
    OTHER = "other", "Other restriction in national law (name it in the reference)"


class SearchRequest(models.Model):
    class AccessRestriction(models.TextChoices):
        NONE = "", "None claimed"
        PENDING = "pending", "Claimed: waiting for the DPO"
        APPROVED = "approved", "Approved by the DPO: withheld from access requests"
        REFUSED = "refused", "Refused by the DPO"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for the face model"
        CHOOSE_FACE = "choose_face", "Several faces: choose one"
        SEARCHING = "searching", "Searching"
        # The top match is a person the organisation searched before, within the monitoring window:
        # the results wait until the analyst confirms and gives the case reference (docs/monitoring.md).
        NEEDS_CONFIRMATION = "needs_confirmation", "Repeat search: confirm to see the results"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, related_name="searches"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="searches"
    )
    purpose = models.CharField(max_length=500)
    lawful_basis = models.CharField(max_length=40, choices=LawfulBasis.choices)
    case_reference = models.CharField(max_length=100)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    status_changed_at = models.DateTimeField(default=timezone.now)
    error = models.CharField(max_length=300, blank=True)
    # The probe photo exists only until it is embedded; then the file is deleted.
    probe = models.FileField(upload_to="probes/", max_length=300, blank=True)
    probe_embedding = VectorField(null=True, blank=True)
    model = models.CharField(max_length=40, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    # The strict operating point the search ran at (search/calibration.json): the largest distance
    # shown as a match, and the number of faces it was searched against.
    match_threshold = models.FloatField(null=True, blank=True)
    index_size = models.PositiveIntegerField(null=True, blank=True)
    # A claimed restriction of the right of access (Art 23), written by search.withholding. Only an
    # APPROVED claim withholds this search's organisation from an access package.
    access_restriction = models.CharField(
        max_length=10,
        choices=AccessRestriction.choices,
        default=AccessRestriction.NONE,
        blank=True,
        db_index=True,
    )
    access_restriction_basis = models.CharField(
        max_length=30, choices=AccessRestrictionBasis.choices, blank=True
    )
    access_restriction_reference = models.CharField(max_length=200, blank=True)
    access_restriction_claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    access_restriction_claimed_at = models.DateTimeField(null=True, blank=True)
    access_restriction_decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    access_restriction_decided_at = models.DateTimeField(null=True, blank=True)
    access_restriction_note = models.TextField(
        blank=True, help_text="the DPO's reasons for the decision"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(access_restriction="")
                | ~models.Q(access_restriction_reference=""),
                name="search_request_access_restriction_reference_required",
            ),
            models.CheckConstraint(
                condition=~models.Q(purpose=""), name="search_request_purpose_required"
            ),
            models.CheckConstraint(
                condition=~models.Q(case_reference=""),
                name="search_request_case_reference_required",
            ),
        ]

    def __str__(self) -> str:
        return f"search {self.pk} ({self.case_reference})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)


class ProbeFace(models.Model):
    """A face found in a probe with several faces, kept only until the analyst picks one."""

    search = models.ForeignKey(SearchRequest, on_delete=models.CASCADE, related_name="probe_faces")
    index = models.PositiveSmallIntegerField()
    box = models.JSONField()
    thumbnail = models.BinaryField()
    embedding = VectorField()

    class Meta:
        ordering = ["index"]
        constraints = [
            models.UniqueConstraint(
                fields=["search", "index"], name="search_probeface_unique_index"
            )
        ]

    def __str__(self) -> str:
        return f"probe face {self.index} of search {self.search_id}"


class SearchHit(models.Model):
    search = models.ForeignKey(SearchRequest, on_delete=models.CASCADE, related_name="hits")
    face = models.ForeignKey(Face, on_delete=models.CASCADE, related_name="hits")
    distance = models.FloatField()
    confidence = models.FloatField()
    rank = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["search", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["search", "rank"], name="search_hit_unique_rank")
        ]

    def __str__(self) -> str:
        return f"hit {self.rank} of search {self.search_id}"

    @property
    def similarity(self) -> float:
        """Cosine similarity (1 is identical)."""
        return 1.0 - self.distance


class MonitoringAlert(models.Model):
    """The same indexed person searched under several case references or by several organisations.

    It holds no face and no embedding: only links to the searches (whose top matches are the
    person) and the counts that raised it. Opened, updated and closed by ``search.monitoring``.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    searches = models.ManyToManyField(
        SearchRequest, through="MonitoringAlertSearch", related_name="monitoring_alerts"
    )
    window_days = models.PositiveSmallIntegerField(
        help_text="the window the counts were taken over"
    )
    organisations = models.PositiveIntegerField(
        help_text="distinct organisations that searched the person"
    )
    max_case_references = models.PositiveIntegerField(
        help_text="most distinct case references of one organisation"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    close_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-updated_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["open", "closed"]), name="search_alert_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(status="open", closed_at__isnull=True)
                | (models.Q(status="closed", closed_at__isnull=False) & ~models.Q(close_note="")),
                name="search_alert_closed_with_note",
            ),
        ]

    def __str__(self) -> str:
        return f"monitoring alert {self.pk} ({self.status})"


class MonitoringAlertSearch(models.Model):
    alert = models.ForeignKey(MonitoringAlert, on_delete=models.CASCADE, related_name="links")
    search = models.ForeignKey(
        SearchRequest, on_delete=models.CASCADE, related_name="monitoring_links"
    )
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["alert", "search"], name="search_alert_search_unique")
        ]

    def __str__(self) -> str:
        return f"search {self.search_id} in alert {self.alert_id}"
