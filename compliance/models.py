"""The tamper-evident audit log."""

from __future__ import annotations

from django.db import models


class AuditEvent(models.Model):
    """One audited action. Append-only: a database trigger refuses UPDATE and DELETE.

    ``row_hash`` is SHA-256 over the canonical JSON of this row's fields (with the details as
    a digest) and ``prev_hash``, so editing or removing any row breaks the chain from that
    row on. Redaction (``compliance_audit_redact``) may blank ``details`` only.
    """

    seq = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField()
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_label = models.CharField(max_length=254, blank=True)
    actor_role = models.CharField(max_length=60, blank=True)
    action = models.CharField(max_length=120, db_index=True)
    target_type = models.CharField(max_length=120, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    organisation_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    outcome = models.CharField(max_length=40)
    ip = models.GenericIPAddressField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)
    # The row hash covers this digest, not the details themselves, so that erasure can redact
    # personal details later without breaking the chain.
    details_digest = models.CharField(max_length=64)
    redacted_at = models.DateTimeField(null=True, blank=True)
    prev_hash = models.CharField(max_length=64)
    row_hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["seq"]
        indexes = [models.Index(fields=["created_at"]), models.Index(fields=["target_type", "target_id"])]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.outcome}"
