"""Moved to ``outbox.services`` (a low layer every app may import); re-exported here."""

from outbox.services import email_enqueue, emails_send_pending  # noqa: F401
