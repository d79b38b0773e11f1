"""Data-subject requests (access, erasure, objection, restriction, rectification, complaints),
their verification, candidates and access packages. The suppression list of objectors lives in search."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from pgvector.django import VectorField

# The suppression list moved beside ingestion (search.models); this name stays for older imports.
from search.models import Suppression  # noqa: F401


class RequestType(models.TextChoices):
    ACCESS = "access", _("Access to my data (Art 15)")
    ERASURE = "erasure", _("Erase my data (Art 17)")
    OBJECTION = "objection", _("Object: stop processing and never collect me again (Art 21)")
    RESTRICTION = "restriction", _("Restrict: keep but do not use (Art 18)")
    RECTIFICATION = "rectification", _("Correct my data (Art 16)")
    COMPLAINT = "complaint", _("Complaint")


class SubjectRequest(models.Model):
    class Status(models.TextChoices):
        AWAITING_VERIFICATION = "awaiting_verification", _("Waiting for email confirmation")
        VERIFIED = "verified", _("Email confirmed")
        IN_REVIEW = "in_review", _("In review")
        AWAITING_CLARIFICATION = (
            "awaiting_clarification",
            _("Waiting for the requester's reply (clock paused)"),
        )
        APPROVED = "approved", _("Approved")
        PROCESSING = "processing", _("Being carried out")
        COMPLETED = "completed", _("Completed")
        DENIED = "denied", _("Refused")
        WITHDRAWN = "withdrawn", _("Withdrawn")
        LAPSED = "lapsed", _("Lapsed (email never confirmed)")

    reference = models.CharField(max_length=20, unique=True)
    type = models.CharField(max_length=20, choices=RequestType.choices)
    email = models.EmailField()
    details = models.TextField(blank=True)
    urls = models.JSONField(
        default=list,
        blank=True,
        help_text="page or image URLs the person gave to locate their photos",
    )
    correction = models.TextField(
        blank=True, help_text="rectification: what is wrong and what it should say"
    )
    status = models.CharField(
        max_length=30, choices=Status.choices, default=Status.AWAITING_VERIFICATION, db_index=True
    )
    received_at = models.DateTimeField(default=timezone.now)
    verified_at = models.DateTimeField(null=True, blank=True)
    due_date = models.DateField()
    original_due_date = models.DateField()
    extended = models.BooleanField(default=False)
    extension_reason = models.TextField(blank=True)
    extended_at = models.DateTimeField(null=True, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    pause_reason = models.TextField(blank=True)
    paused_days = models.PositiveIntegerField(default=0)
    decision_reason = models.TextField(blank=True)
    consent_keep_template = models.BooleanField(default=False)
    # Only with explicit consent (objection): the selfie's face template, kept to suppress it.
    template = VectorField(null=True, blank=True)
    template_model = models.CharField(max_length=40, blank=True)
    selfie_faces = models.PositiveSmallIntegerField(default=0)
    expansion_rounds = models.PositiveSmallIntegerField(
        default=0, help_text="rounds of candidates proposed near confirmed faces (bounded)"
    )
    status_token_hash = models.CharField(max_length=64)
    completed_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The language the person used to file the request (a code from settings.LANGUAGES): every later
    # email to them (confirmation, questions, decisions, completion) is written in it.
    language = models.CharField(
        max_length=10, default="en-gb", help_text="language of the emails to the requester"
    )

    class Meta:
        ordering = ["due_date", "received_at"]

    def __str__(self) -> str:
        return f"{self.reference} ({self.get_type_display()})"

    @property
    def is_open(self) -> bool:
        return self.status not in (
            self.Status.COMPLETED,
            self.Status.DENIED,
            self.Status.WITHDRAWN,
            self.Status.LAPSED,
        )

    @property
    def days_left(self) -> int:
        return (self.due_date - timezone.localdate()).days

    @property
    def public_status(self) -> str:
        """The status worded for the requester (the DPO sees ``get_status_display``)."""
        if self.status == self.Status.AWAITING_CLARIFICATION:
            return str(_("Waiting for your reply (the deadline is paused)"))
        if self.status == self.Status.AWAITING_VERIFICATION:
            return str(_("Waiting for you to confirm your email address"))
        return str(self.get_status_display())

    @property
    def is_overdue(self) -> bool:
        return (
            self.is_open
            and self.status != self.Status.AWAITING_CLARIFICATION
            and self.days_left < 0
        )


class VerificationToken(models.Model):
    """A single-use, expiring email link (only its SHA-256 is stored)."""

    request = models.ForeignKey(SubjectRequest, on_delete=models.CASCADE, related_name="tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"verification for {self.request_id}"


class Candidate(models.Model):
    """A face that may be the requester's, found by selfie or URL; the DPO confirms or rejects it."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", "Proposed"
        CONFIRMED = "confirmed", "Confirmed"
        REJECTED = "rejected", "Rejected"

    request = models.ForeignKey(SubjectRequest, on_delete=models.CASCADE, related_name="candidates")
    face = models.ForeignKey("search.Face", null=True, on_delete=models.SET_NULL, related_name="+")
    face_ref = models.BigIntegerField(help_text="the face id, kept after erasure for the record")
    distance = models.FloatField(null=True, blank=True)
    borderline = models.BooleanField(default=False)
    found_by = models.CharField(
        max_length=20,
        choices=[
            ("selfie", "Selfie"),
            ("url", "URL"),
            ("expansion", "Near a confirmed face"),
            ("answer", "Requester's answer"),
        ],
    )
    near_face_ref = models.BigIntegerField(
        null=True, blank=True, help_text="expansion: the confirmed face it is near"
    )
    expanded = models.BooleanField(
        default=False, help_text="a confirmed face whose neighbours were already looked up"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PROPOSED)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["request", "face_ref"], name="subjects_candidate_unique"
            )
        ]

    def __str__(self) -> str:
        return f"candidate face {self.face_ref} for {self.request_id}"


class Clarification(models.Model):
    """The DPO's question while the clock is paused, and the requester's answer given on the status page."""

    request = models.ForeignKey(
        SubjectRequest, on_delete=models.CASCADE, related_name="clarifications"
    )
    question = models.TextField()
    asked_at = models.DateTimeField(default=timezone.now)
    asked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    answer = models.TextField(blank=True)
    answer_urls = models.JSONField(default=list, blank=True)
    answer_selfie_faces = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="faces found in a selfie sent with the answer (the photo is never stored)",
    )
    answer_candidates = models.PositiveIntegerField(default=0)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["asked_at"]

    def __str__(self) -> str:
        return f"clarification for {self.request_id}"


class AccessPackage(models.Model):
    request = models.ForeignKey(SubjectRequest, on_delete=models.CASCADE, related_name="packages")
    file = models.FileField(upload_to="access-packages/", max_length=300, blank=True)
    sha256 = models.CharField(max_length=64)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    downloads = models.PositiveIntegerField(default=0)
    deleted_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"access package for {self.request_id}"


class ErasureReceipt(models.Model):
    request = models.OneToOneField(
        SubjectRequest, on_delete=models.PROTECT, related_name="erasure_receipt"
    )
    counts = models.JSONField(default=dict)
    organisations_notified = models.JSONField(default=list)
    verified_clean = models.BooleanField(default=False)
    verification = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"erasure receipt for {self.request_id}"


class OrganisationNotice(models.Model):
    """In-app notice to a customer organisation (Art 19: an erasure touched their results)."""

    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.CASCADE, related_name="notices"
    )
    message = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"notice to {self.organisation_id}"


class ProofMethod(models.TextChoices):
    """How the DPO established that the requester is the person whose photos they ask about (issue 22).

    A verified email proves control of an address only; it releases the first tier (what exposes nobody).
    One of these releases the second tier (photos, addresses, recipients) and irreversible actions."""

    LIVE_CAPTURE = "live_capture", _("Live camera capture with a challenge, reviewed by the DPO")
    VIDEO_CALL = "video_call", _("Video call with the DPO")
    PAGE_CONTROL = "page_control", _("Proof of control of the page that holds the photo")
    DOCUMENT_SEEN = "document_seen", _("Identity document seen by the DPO and not kept")


class IdentityProof(models.Model):
    """The DPO's recorded decision that a request's requester is the person (one row per decision)."""

    request = models.ForeignKey(
        SubjectRequest, on_delete=models.CASCADE, related_name="identity_proofs"
    )
    method = models.CharField(max_length=20, choices=ProofMethod.choices)
    accepted = models.BooleanField(
        help_text="true: the requester is shown to be the person; false: the proof failed"
    )
    note = models.TextField(
        blank=True, help_text="what was checked (never the document's number or a copy of it)"
    )
    evidence = models.JSONField(
        default=dict, blank=True, help_text="numbers and flags only: no images, no embeddings"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-decided_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    method__in=["live_capture", "video_call", "page_control", "document_seen"]
                ),
                name="subjects_identityproof_method_valid",
            )
        ]

    def __str__(self) -> str:
        return f"{self.request.reference}: {self.method} ({'accepted' if self.accepted else 'refused'})"


class LiveCapture(models.Model):
    """A live camera capture sent from the rights portal (issue 22): the challenge, the automated checks'
    report, and the frames, ENCRYPTED in storage (one object per capture) only until the DPO decides, at
    most until ``delete_by`` (the request's due date when it was sent). subjects/capture.py owns it."""

    class Decision(models.TextChoices):
        PENDING = "", "Not decided"
        ACCEPTED = "accepted", "Accepted"
        REFUSED = "refused", "Refused"

    request = models.ForeignKey(
        SubjectRequest, on_delete=models.CASCADE, related_name="live_captures"
    )
    challenge = models.JSONField(
        default=dict, help_text="steps, issued_at, expires_at (never the nonce)"
    )
    report = models.JSONField(
        default=dict, help_text="search.liveness.CaptureReport.to_dict(): numbers and flags only"
    )
    passed = models.BooleanField(
        default=False, help_text="every automated check passed (an aid: the DPO decides)"
    )
    frame_count = models.PositiveSmallIntegerField(default=0)
    reference_count = models.PositiveSmallIntegerField(
        default=0, help_text="confirmed candidates compared with the live face"
    )
    frames_name = models.CharField(
        max_length=300, blank=True, help_text="storage name of the encrypted frames"
    )
    frames_sha256 = models.CharField(
        max_length=64, blank=True, help_text="SHA-256 of the stored (encrypted) object"
    )
    created_at = models.DateTimeField(default=timezone.now)
    delete_by = models.DateField(
        help_text="the frames are deleted by then if the DPO has not decided"
    )
    decision = models.CharField(
        max_length=10, choices=Decision.choices, default=Decision.PENDING, blank=True
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"live capture {self.pk} for {self.request_id}"

    @property
    def frames_held(self) -> bool:
        return bool(self.frames_name) and self.deleted_at is None

    @property
    def checks(self) -> list[dict]:
        return list(self.report.get("checks", []))

    @property
    def flags(self) -> list[str]:
        return list(self.report.get("flags", []))

    @property
    def frame_numbers(self) -> range:
        return range(self.frame_count)


class AbuseSignal(models.Model):
    """A pattern of requests that suggests someone is using the rights portal to find another person (issue 22).

    Raised by subjects.abuse for the DPO, with the evidence as request references, keyed pseudonyms of the
    addresses and counts: never a face crop, an embedding or an address in clear. One open signal per
    (kind, key); a later request that matches the same pattern updates its evidence.
    """

    class Kind(models.TextChoices):
        SHARED_FACE = "shared_face", "One face, requests from several addresses"
        MANY_FACES = "many_faces", "One address, requests for several different faces"
        ADDRESS_VARIANTS = "address_variants", "Variants of one address (a +tag, dots in gmail)"
        CAPTURE_FAILURES = "capture_failures", "A request failed the live checks repeatedly"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    key = models.CharField(
        max_length=100, help_text="what makes the pattern one signal (a pseudonym or a reference)"
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    evidence = models.JSONField(
        default=dict, help_text="references, pseudonyms and counts only: no faces, no addresses"
    )
    requests = models.ManyToManyField(SubjectRequest, related_name="abuse_signals", blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    close_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-updated_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "key"],
                condition=models.Q(status="open"),
                name="subjects_abusesignal_one_open_per_key",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["open", "closed"]),
                name="subjects_abusesignal_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"abuse signal {self.kind} ({self.status})"
