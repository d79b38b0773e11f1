"""Face crops over the API with the same token; the error shape; no server path anywhere in results."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import TestCase
from django.urls import reverse
from rest_framework.test import APIClient

from search import services
from search.models import SearchRequest
from tests.accounts.factories import api_token
from tests.search import photos
from tests.search.conftest import index_photos

FIELDS = {
    "purpose": "Identify a fraud suspect",
    "lawful_basis": "legitimate_interests",
    "case_reference": "CASE-9",
}


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(user)}")
    return client


def finished_search(user, name: str = "img2.jpg") -> SearchRequest:
    search = services.search_create(user=user, image_data=photos.photo(name), **FIELDS)
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.search_process_probe(search_id=search.pk)
    search.refresh_from_db()
    return search


@pytest.fixture
def imported(db):
    """img1 (person01, as the probe img2) imported from a folder: a source name and a file name, no web links."""
    image = services.source_image_store(
        data=photos.photo("img1.jpg"), source_label="demo import", original_name="img1.jpg"
    ).image
    assert image is not None
    services.source_images_analyse(image_ids=[image.pk])
    return image


@pytest.mark.django_db
def test_crop_is_fetched_with_the_token_and_results_show_no_server_path(imported, teammate, client):
    api = token_client(teammate)
    search = finished_search(teammate)
    detail = api.get(reverse("api-search-detail", args=[search.pk]))
    hit = detail.json()["hits"][0]
    assert (hit["source"], hit["file_name"], hit["page_url"], hit["image_url"]) == (
        "demo import",
        "img1.jpg",
        "",
        "",
    )
    text = detail.content.decode()
    assert "file:" not in text and str(settings.MEDIA_ROOT) not in text

    crop = api.get(hit["thumbnail_url"], HTTP_ACCEPT="image/*")
    assert crop.status_code == 200
    assert crop["Content-Type"] == "image/jpeg" and crop.content[:3] == b"\xff\xd8\xff"
    assert crop["Cache-Control"] == "private, no-store"

    client.force_login(teammate)
    page = client.get(reverse("search:status", args=[search.pk])).content.decode()
    assert "demo import: img1.jpg" in page
    assert ">page</a>" not in page and "file:" not in page and str(settings.MEDIA_ROOT) not in page


@pytest.mark.django_db
def test_crawled_photo_shows_its_web_links(teammate, client):
    index_photos("img1.jpg")  # crawled: page and image URLs
    search = finished_search(teammate)
    hit = (
        token_client(teammate).get(reverse("api-search-detail", args=[search.pk])).json()["hits"][0]
    )
    assert (
        hit["page_url"] == "https://example.org/img1.jpg.html"
        and hit["image_url"] == "https://example.org/img1.jpg"
    )
    client.force_login(teammate)
    page = client.get(reverse("search:status", args=[search.pk])).content.decode()
    assert 'href="https://example.org/img1.jpg.html"' in page


@pytest.mark.django_db
def test_stranger_gets_404_for_our_crop_and_a_wrong_face_is_404(imported, teammate, stranger):
    """Bad input: another organisation's token; a face id this search did not return; an id beyond bigint."""
    search = finished_search(teammate)
    face_id = search.hits.get().face_id
    url = reverse("api-search-hit-crop", args=[search.pk, face_id])
    response = token_client(stranger).get(url)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    api = token_client(teammate)
    assert (
        api.get(reverse("api-search-hit-crop", args=[search.pk, face_id + 1000])).status_code == 404
    )
    assert api.get(f"/api/v1/searches/{search.pk}/hits/{2**64}/crop/").status_code == 404
    assert api.get(f"/api/v1/searches/{2**64}/").status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("headers", "code"),
    [
        pytest.param({}, "not_authenticated", id="no-token"),
        pytest.param(
            {"HTTP_AUTHORIZATION": "Token not-a-real-key"},
            "authentication_failed",
            id="unknown-token",
        ),
        pytest.param({"HTTP_AUTHORIZATION": "Token"}, "authentication_failed", id="empty-token"),
        pytest.param(
            {"HTTP_AUTHORIZATION": "Token a b"}, "authentication_failed", id="token-with-spaces"
        ),
        pytest.param({"HTTP_AUTHORIZATION": "Bearer abc"}, "not_authenticated", id="wrong-scheme"),
    ],
)
def test_unauthenticated_calls_get_401_in_the_error_shape(headers, code):
    client = APIClient()
    for url, accept in (
        (reverse("api-search-detail", args=[1]), "application/json"),
        (
            reverse("api-search-hit-crop", args=[1, 1]),
            "image/jpeg",
        ),  # an image client still gets a JSON error
        (reverse("api-search-face-thumbnail", args=[1, 0]), "image/*"),
    ):
        response = client.get(url, HTTP_ACCEPT=accept, **headers)
        assert response.status_code == 401, url
        assert response["WWW-Authenticate"] == "Token"
        assert response.json()["error"]["code"] == code
        assert response.json()["error"]["message"]
    response = client.post(reverse("api-search-create"), {}, **headers)
    assert response.status_code == 401


@pytest.mark.django_db
def test_probe_face_thumbnails_over_the_api(teammate):
    index_photos("couple.jpg")
    api = token_client(teammate)
    search = finished_search(teammate, "couple.jpg")
    faces = api.get(reverse("api-search-detail", args=[search.pk])).json()["faces_to_choose"]
    assert len(faces) == 2
    thumb = api.get(faces[0]["thumbnail_url"])
    assert thumb.status_code == 200 and thumb.content[:3] == b"\xff\xd8\xff"
    assert api.get(reverse("api-search-face-thumbnail", args=[search.pk, 7])).status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/searches/%C3%82/hits/%3B%0A%C2%8A/crop/",  # a newline in a segment (found by schemathesis)
        "/api/v1/searches/1/hits/1/crop/%0A",
        "/api/v1/%0D%0Anothing/",
    ],
)
def test_unknown_api_paths_answer_json_404_even_with_control_characters(teammate, path):
    response = token_client(teammate).get(path)
    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "not_found"
