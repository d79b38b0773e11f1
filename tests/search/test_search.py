"""Customer search: services, UI and API with the real model and the real pgvector store."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.urls import reverse
from rest_framework.test import APIClient

from compliance.models import AuditEvent
from search import selectors, services
from search.models import Face, SearchRequest, SourceImage
from tests.accounts.factories import api_token
from tests.search import photos
from tests.search.conftest import index_photos

FIELDS = {
    "purpose": "Identify a fraud suspect",
    "lawful_basis": "legitimate_interests",
    "case_reference": "CASE-42",
}


def probes_on_disk() -> list[Path]:
    folder = Path(settings.MEDIA_ROOT) / "probes"
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def upload(name: str, data: bytes | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(
        name, data if data is not None else photos.photo(name), content_type="image/jpeg"
    )


def run(search: SearchRequest) -> SearchRequest:
    """What the gpu worker does, in this process (with its after-commit steps: deleting the probe)."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.search_process_probe(search_id=search.pk)
    search.refresh_from_db()
    return search


@pytest.mark.django_db
def test_search_finds_the_same_person_and_not_others(indexed, teammate):
    search = services.search_create(user=teammate, image_data=photos.photo("img2.jpg"), **FIELDS)
    assert search.probe and probes_on_disk()
    search = run(search)
    assert search.status == SearchRequest.Status.DONE
    hits = list(search.hits.select_related("face__image"))
    assert [h.face.image_id for h in hits] == [indexed["img1.jpg"].pk]
    assert 0 < hits[0].confidence <= 1 and hits[0].distance < 0.1
    # The probe photo is gone as soon as it is embedded.
    assert not search.probe
    assert probes_on_disk() == []
    actions = set(
        AuditEvent.objects.filter(target_id=str(search.pk)).values_list("action", flat=True)
    )
    assert {"search.search.created", "search.probe.embedded", "search.search.completed"} <= actions


@pytest.mark.django_db
def test_restricted_suppressed_expired_and_excluded_faces_never_come_back(indexed, teammate):
    face = indexed["img1.jpg"].faces.get()
    for change in (
        {"status": Face.Status.RESTRICTED},
        {"status": Face.Status.SUPPRESSED},
        {"jurisdiction": "GB"},
    ):
        Face.objects.filter(pk=face.pk).update(
            **{"status": Face.Status.ACTIVE, "jurisdiction": "", **change}
        )
        search = run(
            services.search_create(user=teammate, image_data=photos.photo("img2.jpg"), **FIELDS)
        )
        assert search.status == SearchRequest.Status.DONE
        assert not search.hits.filter(face=face).exists(), change
    from django.utils import timezone

    Face.objects.filter(pk=face.pk).update(
        status=Face.Status.ACTIVE, jurisdiction="", expires_at=timezone.now()
    )
    search = run(
        services.search_create(user=teammate, image_data=photos.photo("img2.jpg"), **FIELDS)
    )
    assert not search.hits.filter(face=face).exists()


@pytest.mark.django_db
def test_top_k_still_returns_k_when_nearer_faces_are_filtered(indexed):
    """Twenty nearer but restricted faces do not starve the result: the scan goes on."""
    base = np.asarray(indexed["img1.jpg"].faces.get().embedding)
    image = indexed["img3.jpg"]
    rng = np.random.default_rng(7)
    for i in range(60):
        vec = base + rng.normal(0, 0.002 if i < 20 else 0.01, base.shape)
        Face.objects.create(
            image=image,
            box_x=0,
            box_y=0,
            box_w=50,
            box_h=50,
            detection_score=1,
            crop="",
            embedding=(vec / np.linalg.norm(vec)).tolist(),
            model="Dlib",
            detector="dlib",
            status=Face.Status.RESTRICTED if i < 20 else Face.Status.ACTIVE,
        )
    matches = selectors.face_match_list(embedding=base.tolist(), model="Dlib", limit=10)
    assert len(matches) == 10
    statuses = set(
        Face.objects.filter(pk__in=[m.face_id for m in matches]).values_list("status", flat=True)
    )
    assert statuses == {Face.Status.ACTIVE}
    assert [m.distance for m in matches] == sorted(m.distance for m in matches)


@pytest.mark.django_db
def test_search_compares_only_vectors_of_the_same_model(indexed):
    base = indexed["img1.jpg"].faces.get().embedding
    Face.objects.filter(pk=indexed["img1.jpg"].faces.get().pk).update(model="Facenet")
    assert (
        selectors.face_match_list(embedding=list(base), model="Dlib", limit=5)[0].face_id
        != indexed["img1.jpg"].faces.get().pk
    )


@pytest.mark.django_db
def test_probe_with_several_faces_asks_which_one(indexed, teammate):
    indexed.update(index_photos("couple.jpg"))
    search = run(
        services.search_create(user=teammate, image_data=photos.photo("couple.jpg"), **FIELDS)
    )
    assert search.status == SearchRequest.Status.CHOOSE_FACE
    assert search.probe_faces.count() == 2
    assert probes_on_disk() == []
    couple_faces = set(indexed["couple.jpg"].faces.values_list("pk", flat=True))
    search = services.search_choose_face(search=search, index=1, user=teammate)
    assert search.status == SearchRequest.Status.DONE
    assert search.probe_faces.count() == 0
    assert {h.face_id for h in search.hits.all()} & couple_faces


@pytest.mark.django_db
def test_probe_without_a_face_fails_with_the_reason_and_is_deleted(teammate):
    search = run(services.search_create(user=teammate, image_data=photos.no_face_png(), **FIELDS))
    assert search.status == SearchRequest.Status.FAILED
    assert "No usable face" in search.error
    assert probes_on_disk() == []


@pytest.mark.django_db
def test_processing_twice_is_harmless(indexed, teammate):
    search = run(
        services.search_create(user=teammate, image_data=photos.photo("img2.jpg"), **FIELDS)
    )
    hits = list(search.hits.values_list("face_id", "rank"))
    run(search)
    assert list(search.hits.values_list("face_id", "rank")) == hits


@pytest.mark.django_db
def test_reanalysing_an_image_replaces_its_faces(db):
    image = index_photos("couple.jpg")["couple.jpg"]
    before = set(image.faces.values_list("pk", flat=True))
    SourceImage.objects.filter(pk=image.pk).update(
        status=SourceImage.Status.PROCESSING
    )  # a crashed attempt
    services.source_images_analyse(image_ids=[image.pk])
    after = set(image.faces.values_list("pk", flat=True))
    assert len(after) == len(before) and not before & after


@pytest.mark.django_db
def test_duplicate_image_is_stored_once(indexed):
    again = services.source_image_store(data=photos.photo("img1.jpg"), source_label="again")
    assert again.skipped == "duplicate" and again.image.pk == indexed["img1.jpg"].pk
    assert SourceImage.objects.filter(sha256=indexed["img1.jpg"].sha256).count() == 1


@pytest.mark.django_db
def test_excluded_jurisdiction_is_not_stored(db):
    result = services.source_image_store(
        data=photos.photo("img5.jpg"), source_label="uk", jurisdiction="gb"
    )
    assert result.skipped == "excluded_jurisdiction" and result.image is None
    assert not SourceImage.objects.exists()


# --- UI ---------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("label", "name", "data", "message"),
    [
        ("a PDF named .jpg", "x.jpg", photos.NOT_AN_IMAGE, b"not an image"),
        ("zero bytes", "x.jpg", b"", b"empty"),
        ("truncated JPEG", "x.jpg", photos.truncated_jpeg(), b"damaged"),
        ("PNG bomb", "x.png", photos.png_bomb(), b"megapixels"),
        ("60 MB JPEG", "x.jpg", photos.huge_jpeg(), b"the limit is"),
        ("SVG", "x.svg", photos.SVG, b"SVG"),
        ("HEIC", "x.heic", photos.HEIC, b"HEIC"),
    ],
)
def test_ui_bad_photo_gets_a_message_and_nothing_is_written(
    client, teammate, label, name, data, message
):
    client.force_login(teammate)
    response = client.post(reverse("search:index"), {**FIELDS, "image": upload(name, data)})
    # An oversized body is refused from its Content-Length before it is read (config/middleware.py).
    assert response.status_code == (413 if len(data) > settings.FACE_IMAGE_MAX_BYTES else 400), (
        label
    )
    assert message in response.content
    assert not SearchRequest.objects.exists()
    assert probes_on_disk() == []


@pytest.mark.django_db
def test_ui_requires_purpose_basis_and_case(client, teammate):
    client.force_login(teammate)
    response = client.post(
        reverse("search:index"),
        {
            "image": upload("img2.jpg"),
            "purpose": "",
            "lawful_basis": "because",
            "case_reference": "",
        },
    )
    assert response.status_code == 400
    assert not SearchRequest.objects.exists()


@pytest.mark.django_db
def test_ui_search_and_results_view_is_audited(client, indexed, teammate):
    client.force_login(teammate)
    response = client.post(reverse("search:index"), {**FIELDS, "image": upload("img2.jpg")})
    assert response.status_code == 302
    search = SearchRequest.objects.get()
    page = client.get(response["Location"])
    assert b'hx-get="' in page.content  # live progress while pending
    run(search)
    page = client.get(reverse("search:detail", args=[search.pk]))
    assert b"1 match" in page.content
    assert b"https://example.org/img1.jpg.html" in page.content
    thumb = client.get(reverse("search:hit_thumbnail", args=[search.pk, search.hits.get().face_id]))
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/jpeg"
    assert AuditEvent.objects.filter(action="search.results.viewed", actor_id=teammate.pk).exists()


@pytest.mark.django_db
def test_stranger_gets_404_on_our_search(client, indexed, teammate, stranger):
    search = run(
        services.search_create(user=teammate, image_data=photos.photo("img2.jpg"), **FIELDS)
    )
    face_id = search.hits.first().face_id
    client.force_login(stranger)
    for url in (
        reverse("search:detail", args=[search.pk]),
        reverse("search:status", args=[search.pk]),
        reverse("search:hit_thumbnail", args=[search.pk, face_id]),
    ):
        assert client.get(url).status_code == 404, url
    assert (
        client.post(reverse("search:choose_face", args=[search.pk]), {"face": 0}).status_code == 404
    )
    api = APIClient()
    api.force_authenticate(stranger)
    assert api.get(reverse("api-search-detail", args=[search.pk])).status_code == 404


# --- API ----------------------------------------------------------------------------------


@pytest.fixture
def api(teammate):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(teammate)}")
    return client


@pytest.mark.django_db
def test_api_search_round_trip(api, indexed):
    response = api.post(
        reverse("api-search-create"), {**FIELDS, "image": upload("img2.jpg")}, format="multipart"
    )
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "pending" and body["id"]
    run(SearchRequest.objects.get(pk=body["id"]))
    detail = api.get(reverse("api-search-detail", args=[body["id"]])).json()
    assert detail["status"] == "done"
    assert len(detail["hits"]) == 1
    hit = detail["hits"][0]
    assert hit["page_url"] == "https://example.org/img1.jpg.html"
    assert "embedding" not in str(detail)
    assert 0 < hit["confidence"] <= 1 and 0.9 < hit["similarity"] <= 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "code", "status"),
    [
        (photos.NOT_AN_IMAGE, "not_an_image", 400),
        (b"", "invalid", 400),
        (photos.png_bomb(), "too_many_pixels", 400),
        (photos.huge_jpeg(), "too_large", 413),
        (photos.SVG, "svg", 400),
        (photos.HEIC, "unsupported_format", 400),
        (photos.truncated_jpeg(), "damaged", 400),
    ],
)
def test_api_bad_photo_gets_4xx_with_reason(api, data, code, status):
    response = api.post(
        reverse("api-search-create"), {**FIELDS, "image": upload("x.jpg", data)}, format="multipart"
    )
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]
    assert not SearchRequest.objects.exists()


@pytest.mark.django_db
def test_api_missing_fields(api):
    response = api.post(
        reverse("api-search-create"), {"image": upload("img2.jpg")}, format="multipart"
    )
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"purpose", "lawful_basis", "case_reference"}


@pytest.mark.django_db
def test_api_monthly_quota_and_rate_limit(api, teammate, settings):
    org = teammate.membership.organisation
    org.monthly_search_quota = 1
    org.save()
    assert (
        api.post(
            reverse("api-search-create"),
            {**FIELDS, "image": upload("img2.jpg")},
            format="multipart",
        ).status_code
        == 202
    )
    over = api.post(
        reverse("api-search-create"), {**FIELDS, "image": upload("img2.jpg")}, format="multipart"
    )
    assert over.status_code == 429
    assert "quota" in over.json()["error"]["message"]
    org.monthly_search_quota = 100
    org.save()
    settings.SEARCH_RATE_LIMIT_PER_MINUTE = 2
    codes = [
        api.post(
            reverse("api-search-create"),
            {**FIELDS, "image": upload("img2.jpg")},
            format="multipart",
        ).status_code
        for _ in range(3)
    ]
    assert codes[-1] == 429


@pytest.mark.django_db
def test_api_requires_authentication(client):
    assert APIClient().get(reverse("api-search-detail", args=[1])).status_code in (401, 403)


# --- Through a real worker --------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_search_through_a_real_worker(client, teammate, celery_worker_process):
    index_photos("img1.jpg", "img3.jpg")
    client.force_login(teammate)
    response = client.post(reverse("search:index"), {**FIELDS, "image": upload("img2.jpg")})
    assert response.status_code == 302
    search = SearchRequest.objects.get()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        search.refresh_from_db()
        if search.is_finished:
            break
        time.sleep(0.3)
    assert search.status == SearchRequest.Status.DONE, search.error
    assert search.hits.count() == 1
    assert probes_on_disk() == []
    partial = client.get(reverse("search:status", args=[search.pk]))
    assert b"hx-get" not in partial.content  # polling stops once finished


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_sweeper_requeues_an_image_whose_worker_died(celery_worker_process):
    from datetime import timedelta

    from django.utils import timezone

    result = services.source_image_store(data=photos.photo("img5.jpg"), source_label="crash test")
    image = result.image
    # A worker claimed it and died: PROCESSING, no faces, long ago.
    SourceImage.objects.filter(pk=image.pk).update(
        status=SourceImage.Status.PROCESSING,
        attempts=1,
        status_changed_at=timezone.now() - timedelta(minutes=30),
    )
    counts = services.searches_requeue_stuck()
    assert counts["images"] == 1
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        image.refresh_from_db()
        if image.status == SourceImage.Status.DONE:
            break
        time.sleep(0.3)
    assert image.status == SourceImage.Status.DONE
    assert image.faces.count() == 1


@pytest.mark.django_db
def test_openapi_schema_documents_the_search_endpoints(client, teammate):
    client.force_login(teammate)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert "/api/v1/searches/" in schema["paths"]
    assert "/api/v1/searches/{search_id}/" in schema["paths"]
    assert client.get("/api/docs/").status_code == 200


@pytest.mark.django_db
def test_api_choose_a_face(api, indexed):
    index_photos("couple.jpg")
    created = api.post(
        reverse("api-search-create"), {**FIELDS, "image": upload("couple.jpg")}, format="multipart"
    ).json()
    run(SearchRequest.objects.get(pk=created["id"]))
    detail = api.get(reverse("api-search-detail", args=[created["id"]])).json()
    assert detail["status"] == "choose_face" and len(detail["faces_to_choose"]) == 2
    assert (
        api.post(
            reverse("api-search-choose", args=[created["id"]]), {"face": 9}, format="json"
        ).status_code
        == 409
    )
    chosen = api.post(
        reverse("api-search-choose", args=[created["id"]]), {"face": 0}, format="json"
    )
    assert chosen.status_code == 200 and chosen.json()["status"] == "done"
    assert (
        api.post(
            reverse("api-search-choose", args=[created["id"]]), {"face": 0}, format="json"
        ).status_code
        == 409
    )
