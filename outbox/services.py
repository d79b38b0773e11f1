"""A durable email outbox: an email is a row written with the change it reports, then sent.

``email_enqueue`` runs inside the caller's transaction; after the commit the email is sent at
once (best effort). Rows whose sending failed (mail server down, worker gone) stay and are
re-sent by ``emails_send_pending`` (a periodic task, every minute). Sending locks the row
(``SKIP LOCKED``) and deletes it in the same transaction, so two senders never send one row
twice; a crash between the send and the commit can repeat an email, never lose it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.core.mail import send_mail
from django.db import transaction

from outbox.models import OutboundEmail

logger = logging.getLogger(__name__)


def email_enqueue(*, to: Sequence[str], subject: str, body: str) -> OutboundEmail:
    """Queue one email in the current transaction; it is sent after the commit."""
    email = OutboundEmail.objects.create(to=list(to), subject=subject[:300], body=body)
    transaction.on_commit(lambda: emails_send_pending(ids=[email.pk]), robust=True)
    return email


def emails_send_pending(*, ids: Sequence[int] | None = None, limit: int = 200) -> int:
    """Send queued emails (those in ``ids``, or all); returns how many were sent. Idempotent."""
    sent = 0
    pending = OutboundEmail.objects.order_by("pk")
    if ids is not None:
        pending = pending.filter(pk__in=list(ids))
    for pk in list(pending.values_list("pk", flat=True)[:limit]):
        with transaction.atomic():
            email = OutboundEmail.objects.select_for_update(skip_locked=True).filter(pk=pk).first()
            if email is None:
                continue  # sent already, or another sender has it
            try:
                send_mail(
                    subject=email.subject,
                    message=email.body,
                    from_email=None,
                    recipient_list=email.to,
                )
            except Exception as exc:  # noqa: BLE001 (any mail failure: keep the row, try again later)
                email.attempts += 1
                email.last_error = f"{type(exc).__name__}"[:200]
                email.save(update_fields=["attempts", "last_error"])
                logger.warning(
                    "email #%s not sent (%s); it stays queued", email.pk, email.last_error
                )
                continue
            email.delete()
            sent += 1
    return sent
