"""Media on a real S3 server (SeaweedFS, started by the suite): search, erasure, sweeps and an outage.

Nothing here mocks S3: the objects are listed with boto3 straight from the bucket, and the face
worker is a real ``celery worker`` process that reads the probe through ``STORAGE_URL``.
"""

from __future__ import annotations

import io
import time
import zipfile
from datetime import timedelta

import environ
import pytest
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from compliance import retention
from compliance.models import AuditEvent
from config.storage import S3_BACKEND, StorageUnavailable, media_storage, parse_storage_url
from search import services
from search.models import SearchRequest, SourceImage
from subjects import services as subject_services
from subjects.models import AccessPackage, SubjectRequest
from tests.accounts.factories import api_token
from tests.compliance.test_retention import make_image
from tests.reliability.test_tasks import Worker, wait_for
from tests.search import photos
from tests.search.conftest import index_photos
from tests.search.test_search import upload
from tests.subjects.requests_support import approve_all, link, submit, verify

FIELDS = {
    "purpose": "Identify a fraud suspect",
    "lawful_basis": "legitimate_interests",
    "case_reference": "CASE-S3",
}


# --- Configuration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("s3://key@host:9000/bucket", id="no-secret"),
        pytest.param("s3://key:secret@host:9000/", id="no-bucket"),
        pytest.param("s3://key:secret@host:9000/a/b", id="bucket-with-slash"),
        pytest.param("http://key:secret@host:9000/bucket", id="wrong-scheme"),
        pytest.param("s3://key:secret@:9000/bucket", id="no-host"),
    ],
)
def test_a_malformed_storage_url_is_refused_with_the_expected_form(url):
    with pytest.raises(ImproperlyConfigured, match="s3://KEY:SECRET@HOST"):
        parse_storage_url(url)


def test_storage_url_and_endpoint_settings_choose_the_s3_backend(monkeypatch):
    """Bad input: an endpoint without a bucket is refused; nothing set keeps the local disk."""
    for name in ("STORAGE_URL", "AWS_S3_ENDPOINT_URL", "AWS_STORAGE_BUCKET_NAME", "STORAGE"):
        monkeypatch.delenv(name, raising=False)
    env = environ.Env()
    assert (
        media_storage(env, production=True)["BACKEND"]
        == "django.core.files.storage.FileSystemStorage"
    )
    monkeypatch.setenv("STORAGE_URL", "s3+http://k%2Fy:s%40cret@127.0.0.1:8333/media")
    found = media_storage(env, production=True)
    assert found["BACKEND"] == S3_BACKEND
    options = found["OPTIONS"]
    assert (
        options["endpoint_url"],
        options["access_key"],
        options["secret_key"],
        options["bucket_name"],
    ) == ("http://127.0.0.1:8333", "k/y", "s@cret", "media")
    assert options["default_acl"] == "private" and options["file_overwrite"] is False
    monkeypatch.delenv("STORAGE_URL")
    monkeypatch.setenv("AWS_S3_ENDPOINT_URL", "https://s3.example.net")
    with pytest.raises(ImproperlyConfigured, match="AWS_STORAGE_BUCKET_NAME"):
        media_storage(env, production=True)
    monkeypatch.delenv("AWS_S3_ENDPOINT_URL")
    monkeypatch.setenv("STORAGE", "s3")
    with pytest.raises(ImproperlyConfigured, match="production"):
        media_storage(env, production=True)  # the embedded server is for development only


# --- Against SeaweedFS -------------------------------------------------------------------


@pytest.mark.django_db
def test_objects_are_private_and_never_overwritten(s3_storage):
    """Bad input: the same name twice (two searches with one photo) must not replace the first object."""
    first = default_storage.save("probes/same.img", ContentFile(b"one"))
    second = default_storage.save("probes/same.img", ContentFile(b"two"))
    assert first != second and s3_storage.objects("probes/") == sorted([first, second])
    with default_storage.open(first) as fh:
        assert fh.read() == b"one"
    import urllib.error
    import urllib.request

    plain = f"http://127.0.0.1:{s3_storage.url.rsplit(':', 1)[1].split('/')[0]}/media/{first}"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(plain, timeout=5)
    assert refused.value.code == 403  # no anonymous read


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_a_real_worker_reads_the_probe_from_s3_and_deletes_it_there(s3_storage, teammate, tmp_path):
    index_photos("img1.jpg", "img3.jpg")
    assert s3_storage.objects("sources/") and len(s3_storage.objects("crops/")) == 2
    from tests.reliability.faults import face_workers_paused

    with face_workers_paused():
        search = services.search_create(
            user=teammate, image_data=photos.photo("img2.jpg"), **FIELDS
        )
        assert s3_storage.objects("probes/") == [
            search.probe.name
        ]  # in the bucket, not on a local disk
        worker = Worker(
            tmp_path / "worker.log",
            STORAGE_URL=s3_storage.url,
            TEST_MEDIA_ROOT=str(tmp_path / "no-media"),
        )
        try:
            wait_for(
                lambda: SearchRequest.objects.get(pk=search.pk).is_finished,
                90,
                "the search to finish",
            )
        finally:
            worker.stop()
    search.refresh_from_db()
    assert search.status == SearchRequest.Status.DONE, search.error
    assert search.hits.count() == 1 and not search.probe
    assert s3_storage.objects("probes/") == []  # deleted in the bucket in the step that embedded it
    assert not (tmp_path / "no-media").exists()  # the worker never touched a local media folder
    assert AuditEvent.objects.filter(
        action="search.probe.embedded", target_id=str(search.pk)
    ).exists()


@pytest.mark.django_db(transaction=True)
def test_erasure_deletes_the_objects_and_verifies_by_listing_the_bucket(
    client, s3_storage, owner, dpo
):
    store = index_photos("img1.jpg", "img3.jpg")
    mine, other = store["img1.jpg"], store["img3.jpg"]
    # Bad state: a crop of an earlier attempt that no row recorded, beside the recorded one.
    folder = mine.faces.get().crop.name.rsplit("/", 1)[0]
    stray = default_storage.save(f"{folder}/{mine.sha256}-7-7.jpg", ContentFile(b"old crop"))
    req = submit(client, "erasure", selfie=photos.photo("img2.jpg"))
    verify(client)
    req = approve_all(SubjectRequest.objects.get(pk=req.pk), dpo)
    subject_services.request_execute(request=req, actor=dpo)
    req.refresh_from_db()
    receipt = req.erasure_receipt
    assert receipt.verified_clean and receipt.verification["files_left"] == 0
    assert receipt.counts["files"] == 3  # the photo, its crop, and the stray crop found by listing
    assert stray not in s3_storage.objects()
    assert [k for k in s3_storage.objects() if mine.sha256 in k] == []
    assert [k for k in s3_storage.objects() if other.sha256 in k]  # someone else's photo stays


@pytest.mark.django_db(transaction=True)
def test_access_package_is_stored_streamed_and_expired_in_the_bucket(
    client, s3_storage, owner, dpo
):
    index_photos("img1.jpg", "img3.jpg")
    req = submit(client, "access", selfie=photos.photo("img2.jpg"))
    verify(client)
    req = approve_all(SubjectRequest.objects.get(pk=req.pk), dpo)
    subject_services.request_execute(request=req, actor=dpo)
    package = AccessPackage.objects.get()
    assert s3_storage.objects("access-packages/") == [package.file.name]
    download = client.post(link(mail.outbox[-1], "package"))
    assert download.status_code == 200
    archive = zipfile.ZipFile(
        io.BytesIO(b"".join(download.streaming_content))
    )  # streamed from S3 by the view
    assert "data.json" in archive.namelist() and any(
        n.startswith("faces/") for n in archive.namelist()
    )
    AccessPackage.objects.filter(pk=package.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    assert subject_services.access_packages_expire() == 1
    assert s3_storage.objects("access-packages/") == []


@pytest.mark.django_db
def test_erasure_verification_finds_an_object_the_database_never_recorded(s3_storage):
    """Bad input: a crop left by an earlier attempt, under a name no row holds, must count as left."""
    digest = "ab" * 32
    recorded = default_storage.save(f"crops/2026/11/ab/{digest}-1-2.jpg", ContentFile(b"crop"))
    stray = default_storage.save(f"crops/2026/11/ab/{digest}-9-9.jpg", ContentFile(b"crop"))
    unrelated = default_storage.save(f"crops/2026/11/ab/{'cd' * 32}-1-2.jpg", ContentFile(b"crop"))
    default_storage.delete(recorded)
    left = subject_services.storage_objects_left(names=[recorded], sha256s=[digest])
    assert left == [stray]
    assert unrelated in s3_storage.objects("crops/")


@pytest.mark.django_db(transaction=True)
def test_retention_sweep_deletes_the_objects_in_the_bucket(s3_storage):
    retention.retention_policies_ensure()
    old, fresh = make_image(1, age_days=400), make_image(2, age_days=10)
    assert len(s3_storage.objects()) == 4  # a photo and a crop each
    receipt = retention.retention_sweep(data_class="source_images")
    assert receipt.affected == 1 and receipt.files_deleted == 2
    assert [k for k in s3_storage.objects() if old.sha256 in k] == []
    assert len([k for k in s3_storage.objects() if fresh.sha256 in k]) == 2


@pytest.mark.django_db(transaction=True)
def test_probe_sweep_deletes_objects_no_row_names_once_past_the_grace(
    s3_storage, teammate, monkeypatch
):
    """Bad state: a probe object whose deletion the store missed (it was down when the row committed)."""
    from search import retention as search_retention

    retention.retention_policies_ensure()
    search = SearchRequest.objects.create(
        organisation=teammate.membership.organisation,
        user=teammate,
        purpose="p",
        lawful_basis="public_task",
        case_reference="CASE-1",
    )
    search.probe.save("kept.img", ContentFile(b"probe"))
    orphan = default_storage.save("probes/orphan.img", ContentFile(b"probe"))
    retention.retention_sweep(data_class="probe_images")
    assert s3_storage.objects("probes/") == sorted(
        [search.probe.name, orphan]
    )  # too young: may be mid-commit
    monkeypatch.setattr(search_retention, "ORPHAN_GRACE", timedelta(seconds=0))
    time.sleep(1.1)
    receipt = retention.retention_sweep(data_class="probe_images")
    assert s3_storage.objects("probes/") == [
        search.probe.name
    ]  # a row names it (its search is pending)
    assert receipt.files_deleted == 1
    assert AuditEvent.objects.filter(
        action="search.retention.orphan_files_deleted", details__count=1
    ).exists()


# --- Outage ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_search_while_storage_is_down_answers_503_and_stores_nothing(
    client, s3_storage, teammate
):
    """Fault: the object storage is down when a photo arrives (web form and API)."""
    s3_storage.stop()
    client.force_login(teammate)
    response = client.post(reverse("search:index"), {**FIELDS, "image": upload("img2.jpg")})
    assert response.status_code == 503 and b"storage" in response.content
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_token(teammate)}")
    response = api.post(
        reverse("api-search-create"), {**FIELDS, "image": upload("img2.jpg")}, format="multipart"
    )
    assert response.status_code == 503 and response.json()["error"]["code"] == "unavailable"
    assert not SearchRequest.objects.exists()
    with pytest.raises(StorageUnavailable, match="unreachable"):
        default_storage.exists("anything")


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_storage_down_mid_search_retries_without_counting_and_loses_nothing(
    s3_storage, teammate, tmp_path
):
    """Fault: SeaweedFS stops after the probe is stored and before the worker reads it."""
    from tests.reliability.faults import face_workers_paused

    index_photos("img1.jpg", "img3.jpg")
    with face_workers_paused():
        search = services.search_create(
            user=teammate, image_data=photos.photo("img2.jpg"), **FIELDS
        )
        probe = search.probe.name
        s3_storage.stop()
        log = tmp_path / "worker.log"
        worker = Worker(log, STORAGE_URL=s3_storage.url)
        try:
            wait_for(
                lambda: "object storage unreachable" in log.read_text(),
                90,
                "the worker to meet the outage",
            )

            # The task retries while the storage is down, each try counting an attempt while it runs and
            # giving it back when it meets the outage: between tries the search is pending, uncounted.
            def uncounted() -> bool:
                s = SearchRequest.objects.get(pk=search.pk)
                return (s.status, s.attempts, s.probe.name) == (
                    SearchRequest.Status.PENDING,
                    0,
                    probe,
                )

            wait_for(uncounted, 30, "the search to stay pending with no attempt counted")
            s3_storage.start()  # same folder, same port: the probe is still there
            assert s3_storage.objects("probes/") == [probe]
            # Whether the task's own retries or the sweeper get there first, the search finishes.
            SearchRequest.objects.filter(pk=search.pk).update(
                status_changed_at=timezone.now() - timedelta(minutes=10)
            )
            services.searches_requeue_stuck()
            wait_for(
                lambda: SearchRequest.objects.get(pk=search.pk).is_finished,
                90,
                "the search to finish",
            )
        finally:
            worker.stop()
    search.refresh_from_db()
    assert search.status == SearchRequest.Status.DONE, search.error
    assert search.attempts == 1 and search.hits.count() == 1
    assert s3_storage.objects("probes/") == []
    assert not SourceImage.objects.filter(status=SourceImage.Status.FAILED).exists()


@pytest.mark.django_db(transaction=True)
def test_storage_down_while_indexing_leaves_the_photos_to_retry_not_failed(s3_storage):
    """Fault: SeaweedFS stops between storing source photos and analysing them (no photo is at fault)."""
    results = [
        services.source_image_store(data=photos.photo(n), source_label="photos")
        for n in ("img1.jpg", "img3.jpg")
    ]
    ids = [r.image.pk for r in results if r.image is not None]
    s3_storage.stop()
    with pytest.raises(StorageUnavailable):
        services.source_images_analyse(image_ids=ids)
    rows = list(SourceImage.objects.filter(pk__in=ids))
    assert [r.attempts for r in rows] == [0, 0]  # the outage is not counted towards quarantine
    assert all(
        r.status in (SourceImage.Status.PENDING, SourceImage.Status.PROCESSING) for r in rows
    )  # the sweeper retries
    s3_storage.start()
    counts = services.source_images_analyse(image_ids=ids)
    assert (counts.images, counts.faces, counts.failed) == (2, 2, 0)
