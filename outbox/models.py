from __future__ import annotations

from django.db import models


class OutboundEmail(models.Model):
    """An email waiting to be sent: the durable outbox (outbox/services.py).

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
        db_table = "compliance_outboundemail"  # created by compliance's migrations; the model moved

    def __str__(self) -> str:
        return f"email #{self.pk} ({self.attempts} attempts)"
