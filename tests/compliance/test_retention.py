"""Retention sweeps: exactly the expired rows and files, legal holds, idempotence, receipts."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.utils import timezone

from compliance import retention
from compliance.models import AuditEvent, LegalHold, RetentionPolicy, SweepReceipt
from compliance.selectors import audit_chain_verify
from search.models import Face, SearchHit, SearchRequest, SourceImage

pytestmark = pytest.mark.django_db(transaction=True)


def media(name: str) -> Path:
    return Path(settings.MEDIA_ROOT) / name


def make_image(
    n: int, *, age_days: int, label: str = "site", jurisdiction: str = ""
) -> SourceImage:
    """A stored image with one face and real files (content is irrelevant to retention)."""
    digest = hashlib.sha256(f"{label}-{n}-{age_days}".encode()).hexdigest()
    seen = timezone.now() - timedelta(days=age_days)
    image = SourceImage(
        sha256=digest,
        width=10,
        height=10,
        format="JPEG",
        byte_size=3,
        source_label=label,
        jurisdiction=jurisdiction,
        first_seen=seen,
        last_seen=seen,
        status=SourceImage.Status.DONE,
    )
    image.file.save(f"sources/{digest}.jpg", ContentFile(b"img"), save=False)
    image.save()
    vec = np.random.default_rng(n).normal(size=128)
    face = Face(
        image=image,
        box_x=0,
        box_y=0,
        box_w=50,
        box_h=50,
        detection_score=1.0,
        model="Dlib",
        detector="dlib",
        embedding=(vec / np.linalg.norm(vec)).tolist(),
        jurisdiction=jurisdiction,
        created_at=seen,
    )
    face.crop.save(f"crops/{digest}.jpg", ContentFile(b"crop"), save=False)
    face.save()
    return image


@pytest.fixture(autouse=True)
def _policies():
    retention.retention_policies_ensure()


def test_sweep_deletes_exactly_the_expired_images_and_files_and_is_idempotent():
    old = [make_image(i, age_days=400) for i in range(5)]
    fresh = [make_image(i, age_days=10) for i in range(3)]
    old_files = [media(i.file.name) for i in old] + [media(i.faces.get().crop.name) for i in old]
    fresh_files = [media(i.file.name) for i in fresh] + [
        media(i.faces.get().crop.name) for i in fresh
    ]
    assert all(p.exists() for p in old_files + fresh_files)

    receipt = retention.retention_sweep(data_class="source_images", chunk_size=2)
    assert receipt.affected == 5 and receipt.files_deleted == 10 and receipt.held == 0
    assert set(SourceImage.objects.values_list("pk", flat=True)) == {i.pk for i in fresh}
    assert Face.objects.count() == 3
    assert not any(p.exists() for p in old_files)
    assert all(p.exists() for p in fresh_files)
    assert (
        receipt.ids_sha256
        == hashlib.sha256(",".join(str(i) for i in sorted(i.pk for i in old)).encode()).hexdigest()
    )
    assert receipt.oldest <= receipt.newest < timezone.now() - timedelta(days=365)
    assert (
        AuditEvent.objects.filter(action="search.retention.source_images_deleted").count() == 3
    )  # 3 chunks of ≤2
    assert AuditEvent.objects.filter(action="compliance.retention_sweep.completed").count() == 1

    again = retention.retention_sweep(data_class="source_images", chunk_size=2)
    assert again.affected == 0 and again.files_deleted == 0
    assert SourceImage.objects.count() == 3
    assert audit_chain_verify().ok


def test_legal_holds_block_deletion_until_released(owner):
    held_source = make_image(1, age_days=400, label="held site")
    held_face = make_image(2, age_days=400)
    held_org = make_image(3, age_days=400)
    free = make_image(4, age_days=400)
    search = SearchRequest.objects.create(
        organisation=owner.membership.organisation,
        user=owner,
        purpose="p",
        lawful_basis="legal_obligation",
        case_reference="c",
    )
    SearchHit.objects.create(
        search=search, face=held_org.faces.get(), distance=0.01, confidence=0.9, rank=1
    )
    LegalHold.objects.create(
        scope=LegalHold.Scope.SOURCE, source_label="held site", reason="litigation"
    )
    face_hold = LegalHold.objects.create(
        scope=LegalHold.Scope.FACE, face_id_held=held_face.faces.get().pk, reason="order"
    )
    LegalHold.objects.create(
        scope=LegalHold.Scope.ORGANISATION,
        organisation=owner.membership.organisation,
        reason="audit",
    )

    receipt = retention.retention_sweep(data_class="source_images")
    assert receipt.affected == 1 and receipt.held == 3
    assert set(SourceImage.objects.values_list("pk", flat=True)) == {
        held_source.pk,
        held_face.pk,
        held_org.pk,
    }
    assert not SourceImage.objects.filter(pk=free.pk).exists()

    face_hold.released_at = timezone.now()
    face_hold.save()
    receipt = retention.retention_sweep(data_class="source_images")
    assert receipt.affected == 1 and receipt.held == 2
    assert not SourceImage.objects.filter(pk=held_face.pk).exists()


def test_faces_crops_probes_and_results_follow_their_policies(teammate):
    org = teammate.membership.organisation
    image = make_image(1, age_days=100)
    face = image.faces.get()
    Face.objects.filter(pk=face.pk).update(created_at=timezone.now() - timedelta(days=400))
    old_search = SearchRequest.objects.create(
        organisation=org,
        user=teammate,
        purpose="p",
        lawful_basis="public_task",
        case_reference="c",
        probe_embedding=[0.1] * 128,
        created_at=timezone.now() - timedelta(days=40),
    )
    old_search.probe.save("probes/left-behind.img", ContentFile(b"probe"))
    new_search = SearchRequest.objects.create(
        organisation=org,
        user=teammate,
        purpose="p",
        lawful_basis="public_task",
        case_reference="c",
        probe_embedding=[0.1] * 128,
    )
    SearchHit.objects.create(
        search=old_search,
        face=face,
        distance=0.02,
        confidence=0.9,
        rank=1,
        created_at=timezone.now() - timedelta(days=400),
    )
    probe_file = media(old_search.probe.name)

    assert retention.retention_sweep(data_class="search_results").affected == 1
    assert retention.retention_sweep(data_class="probe_images").affected == 1
    assert not probe_file.exists()
    assert retention.retention_sweep(data_class="probe_embeddings").affected == 1
    old_search.refresh_from_db()
    new_search.refresh_from_db()
    assert old_search.probe_embedding is None and new_search.probe_embedding is not None
    crop = media(face.crop.name)
    assert retention.retention_sweep(data_class="faces").affected == 1
    assert not Face.objects.filter(pk=face.pk).exists() and not crop.exists()
    assert SourceImage.objects.filter(pk=image.pk).exists()  # the photo has its own, later, expiry
    assert SweepReceipt.objects.count() == 4


def test_policy_period_is_what_counts():
    make_image(1, age_days=40)
    RetentionPolicy.objects.filter(data_class="source_images").update(period_days=30)
    assert retention.retention_sweep(data_class="source_images").affected == 1


def test_jurisdiction_sweep_purges_excluded_data_with_a_receipt():
    gb = make_image(1, age_days=1, jurisdiction="GB")
    scotland = make_image(2, age_days=1, jurisdiction="GB-SCT")
    fr = make_image(3, age_days=1, jurisdiction="FR")
    gb_file = media(gb.file.name)
    receipt = retention.jurisdiction_sweep(codes=["GB"])
    assert receipt.kind == SweepReceipt.Kind.JURISDICTION
    assert receipt.parameters == {"jurisdictions": ["GB"]}
    assert set(SourceImage.objects.values_list("pk", flat=True)) == {fr.pk}
    assert not gb_file.exists() and not SourceImage.objects.filter(pk=scotland.pk).exists()
    assert receipt.affected == 4  # two faces, then their two images
    assert retention.jurisdiction_sweep(codes=["GB"]).affected == 0


def test_audit_events_are_redacted_not_deleted_and_the_chain_holds():
    from compliance.services import audit_record

    old = audit_record(
        actor=None,
        action="tests.old.event",
        target=None,
        outcome="success",
        details={"email_hash": "x"},
    )
    RetentionPolicy.objects.filter(data_class="audit_events").update(period_days=0)
    receipt = retention.retention_sweep(
        data_class="audit_events", now=timezone.now() + timedelta(seconds=1)
    )
    assert receipt.affected >= 1
    old.refresh_from_db()
    assert old.details == {"redacted": True}
    assert AuditEvent.objects.filter(seq=old.seq).exists()
    assert audit_chain_verify().ok


def test_backlog_counts_what_is_past_its_period():
    make_image(1, age_days=400)
    make_image(2, age_days=5)
    assert retention.retention_backlog()["source_images"] == 1


@pytest.mark.worker
def test_dpo_runs_the_sweep_through_a_real_worker(client, dpo, celery_worker_process):
    import time

    from django.urls import reverse

    make_image(1, age_days=400)
    client.force_login(dpo)
    assert client.post(reverse("compliance:sweep_now"), {"kind": "retention"}).status_code == 302
    deadline = time.monotonic() + 60
    while (
        time.monotonic() < deadline
        and not SweepReceipt.objects.filter(data_class="source_images").exists()
    ):
        time.sleep(0.3)
    receipt = SweepReceipt.objects.get(data_class="source_images")
    assert receipt.affected == 1
    assert not SourceImage.objects.exists()
    assert AuditEvent.objects.filter(
        action="compliance.retention_sweep.requested", actor_id=dpo.pk
    ).exists()
