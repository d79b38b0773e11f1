"""Services that log many events at once append them in one batch, and the chain still verifies."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from compliance.models import AuditEvent
from compliance.selectors import audit_chain_verify
from compliance.services import audit_record
from subjects import services
from subjects.models import AccessPackage, SubjectRequest


@pytest.fixture(autouse=True)
def anchor_dir(settings, tmp_path):
    settings.AUDIT_ANCHOR_DIR = tmp_path / "anchors"
    settings.MEDIA_ROOT = tmp_path / "media"


def _packages(n: int, *, expired: bool, tag: str) -> list[AccessPackage]:
    today = timezone.localdate()
    packages = []
    for i in range(n):
        request = SubjectRequest.objects.create(
            reference=f"R-{tag}{i:06d}",
            type="access",
            email=f"p{i}@example.net",
            due_date=today,
            original_due_date=today,
            status_token_hash=f"{tag}{i}",
            status="completed",
        )
        package = AccessPackage(
            request=request,
            sha256="0" * 64,
            token_hash=f"{tag}-{i}",
            expires_at=timezone.now() + timedelta(days=-1 if expired else 7),
        )
        package.file.save(f"{request.reference}.zip", ContentFile(b"zip"), save=False)
        package.save()
        packages.append(package)
    return packages


@pytest.mark.django_db(transaction=True)
def test_expired_packages_are_deleted_with_one_event_each_appended_together(settings):
    """Bad input: packages whose link expired next to live ones; only the expired go, each audited, files
    removed after the commit, and the number of statements does not grow with the number of packages."""
    # The table flush between tests empties the chain head; the first append rebuilds it (two statements more).
    audit_record(actor=None, action="tests.start", target=None, outcome="success")
    live = _packages(2, expired=False, tag="L")
    _packages(2, expired=True, tag="A")
    with CaptureQueriesContext(connection) as two:
        assert services.access_packages_expire() == 2
    expired = _packages(6, expired=True, tag="B")
    with CaptureQueriesContext(connection) as six:
        assert services.access_packages_expire() == 6
    assert len(six) == len(two)
    events = AuditEvent.objects.filter(action="subjects.request.package_deleted")
    assert events.count() == 8
    assert set(
        events.filter(target_id__in=[str(p.request_id) for p in expired]).values_list(
            "target_id", flat=True
        )
    ) == {str(p.request_id) for p in expired}
    for package in expired:
        assert not (Path(settings.MEDIA_ROOT) / str(package.file.name)).exists()
        assert AccessPackage.objects.get(pk=package.pk).deleted_at is not None
    for package in live:
        assert (Path(settings.MEDIA_ROOT) / str(package.file.name)).exists()
        assert AccessPackage.objects.get(pk=package.pk).deleted_at is None
    assert services.access_packages_expire() == 0
    assert audit_chain_verify().ok
