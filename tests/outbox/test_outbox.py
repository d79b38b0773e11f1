"""The outbox app owns the email outbox; its rows stay in the table compliance created."""

from __future__ import annotations

from django.core import mail
from django.db import connection

from outbox.models import OutboundEmail
from outbox.services import email_enqueue


def test_model_moved_but_table_kept(db):
    """Input: the model's metadata and the live schema: app outbox, table compliance_outboundemail."""
    assert OutboundEmail._meta.app_label == "outbox"
    assert OutboundEmail._meta.db_table == "compliance_outboundemail"
    assert "compliance_outboundemail" in connection.introspection.table_names()


def test_enqueued_email_is_sent_after_commit(db, django_capture_on_commit_callbacks):
    """Input: one email queued in a transaction: a row until the commit, then sent and deleted."""
    with django_capture_on_commit_callbacks(execute=True):
        email_enqueue(to=["person@example.org"], subject="Your request", body="Hello")
        assert OutboundEmail.objects.count() == 1
        assert mail.outbox == []
    assert [m.subject for m in mail.outbox] == ["Your request"]
    assert not OutboundEmail.objects.exists()


def test_old_paths_still_import():
    from compliance.models import OutboundEmail as old_model
    from compliance.outbox import email_enqueue as old_enqueue

    assert old_model is OutboundEmail
    assert old_enqueue is email_enqueue
