"""Shared by the admin invariant modules: the superuser, its admin client, and the row helpers."""

from __future__ import annotations

import pytest

from compliance.models import AuditEvent
from tests.accounts import factories


def one_row(row_id: str) -> pytest.MarkDecorator:
    """A table of one row: its id names the guarantee and the path."""
    return pytest.mark.parametrize("row", [pytest.param(row_id, id=row_id)])


@pytest.fixture
def root(db):
    user = factories.user(email="root@facesearch.example", is_staff=True, is_superuser=True)
    factories.with_totp(user)
    return user


@pytest.fixture
def admin_client(client, root):
    client.force_login(root)
    return client


@pytest.fixture(autouse=True)
def _no_crawl_worker(monkeypatch):
    """A crawl enqueued here must not reach a live worker: the rows check the gate, not the fetches."""
    from crawling import tasks

    monkeypatch.setattr(tasks.crawl_job_run, "delay", lambda *args, **kwargs: None)


def _events(action: str, obj) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(
            action=action, target_type=obj._meta.label_lower, target_id=str(obj.pk)
        )
    )
