"""The transparency log: events (its leaves), the stored tree nodes and the signed checkpoints."""

from __future__ import annotations

from django.db import models


class AuditEvent(models.Model):
    """One audited action and one leaf of the log. Append-only: a database trigger refuses UPDATE
    and DELETE, except the sequencer setting ``leaf_index`` once and redaction blanking ``details``.

    ``leaf_hash`` is RFC 9162's SHA-256(0x00 || leaf data), computed by the writer at insert over
    the canonical JSON of ``audit.services.leaf_data`` (details only as their digest, so a redaction
    leaves the leaf intact). ``prev_hash``/``row_hash`` are the old hash chain's, kept for history.
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
    details_digest = models.CharField(max_length=64)
    redacted_at = models.DateTimeField(null=True, blank=True)
    prev_hash = models.CharField(max_length=64, null=True, blank=True)
    row_hash = models.CharField(max_length=64, unique=True, null=True, blank=True)
    leaf_hash = models.BinaryField(max_length=32, null=True)
    leaf_index = models.BigIntegerField(null=True, blank=True, unique=True)

    class Meta:
        db_table = "compliance_auditevent"
        ordering = ["seq"]
        indexes = [
            models.Index(fields=["created_at"], name="compliance__created_6fff64_idx"),
            models.Index(
                fields=["target_type", "target_id"], name="compliance__target__4a30ae_idx"
            ),
            models.Index(
                fields=["seq"],
                name="audit_event_unsequenced",
                condition=models.Q(leaf_index__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.outcome}"


class TreeNode(models.Model):
    """The hash of a complete subtree of 256^k leaves (k ≥ 1): node ``index`` at ``level`` k holds
    leaves [index·256^k, (index+1)·256^k). These are the entries of C2SP tlog-tiles (height 8) above
    level 0; level-0 entries are the events' ``leaf_hash``. Written by the sequencer, never changed.
    """

    level = models.PositiveSmallIntegerField()
    index = models.BigIntegerField()
    hash = models.BinaryField(max_length=32)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["level", "index"], name="audit_treenode_one_per_place")
        ]

    def __str__(self) -> str:
        return f"node {self.level}/{self.index}"


class Checkpoint(models.Model):
    """A signed checkpoint: the tree of the first ``tree_size`` leaves. One per size, so two
    checkpoints of one size cannot differ (no fork can be stored)."""

    tree_size = models.BigIntegerField(unique=True)
    root_hash = models.BinaryField(max_length=32)
    note = models.TextField(help_text="The signed note (C2SP tlog-checkpoint), as published.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["tree_size"]
        get_latest_by = "tree_size"

    def __str__(self) -> str:
        return f"checkpoint {self.tree_size}"
