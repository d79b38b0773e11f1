"""Invariant matrix: a stored result shows only what may be shown now.

Every row drives the real services (PostgreSQL + pgvector, media storage, the Dlib model on the shared
photos of ../shared/faces) through the path a person uses: the rights portal's forms for the
restriction and rectification, the search pages and the API. person01 is img1, img2, img4, img5 (see
identities.csv); img3 and img47 are others.
"""

from __future__ import annotations

import re

import pytest
from django.test import TestCase
from django.urls import reverse

from search import services
from search.models import Face, SearchRequest
from tests.invariants.ingest_support import (
    FIELDS,
    _empty_media,  # noqa: F401 (an autouse fixture)
    _work_in_process,  # noqa: F401 (an autouse fixture)
    rights_request,
    token_client,
)
from tests.search import photos
from tests.search.conftest import index_photos

pytestmark = pytest.mark.django_db(transaction=True)  # the rights portal's emails go out on commit


def finished_search(user) -> SearchRequest:
    """A search for person01 (probe img2) run to the end as the worker runs it."""
    search = services.search_create(user=user, image_data=photos.photo("img2.jpg"), **FIELDS)
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.search_process_probe(search_id=search.pk)
    search.refresh_from_db()
    assert search.status == SearchRequest.Status.DONE, search.error
    return search


# --- restriction and excluded jurisdiction: results already shown --------------------------------


def _restrict(client, dpo):
    rights_request(client, dpo, "restriction")


def _rectify_to_excluded(client, dpo):
    rights_request(client, dpo, "rectification", rectified_jurisdiction="gb")  # GB is excluded


def _exclude_by_policy(client, dpo, settings):
    settings.EXCLUDED_JURISDICTIONS = [*settings.EXCLUDED_JURISDICTIONS, "FR"]


def _page(teammate, search, face_id):
    from django.test import Client

    web = Client()
    web.force_login(teammate)
    html = web.get(reverse("search:detail", args=[search.pk])).content.decode()
    html += web.get(reverse("search:status", args=[search.pk])).content.decode()
    shown = (
        reverse("search:hit_thumbnail", args=[search.pk, face_id]) in html
        or "img1.jpg.html" in html
    )
    return shown, html


def _crop(teammate, search, face_id):
    from django.test import Client

    web = Client()
    web.force_login(teammate)
    response = web.get(reverse("search:hit_thumbnail", args=[search.pk, face_id]))
    return response.status_code == 200, response.status_code


def _api_list(teammate, search, face_id):
    body = token_client(teammate).get(reverse("api-search-detail", args=[search.pk])).json()
    return face_id in [h["face_id"] for h in body["hits"]], body


def _api_crop(teammate, search, face_id):
    response = token_client(teammate).get(
        reverse("api-search-hit-crop", args=[search.pk, face_id]), HTTP_ACCEPT="image/*"
    )
    return response.status_code == 200, response.status_code


CHANGES = {"restriction": _restrict, "rectified to an excluded jurisdiction": _rectify_to_excluded}


VIEWS = {
    "earlier result page": _page,
    "crop URL": _crop,
    "API hit list": _api_list,
    "API crop": _api_crop,
}


@pytest.mark.parametrize(
    ("change", "view"),
    [pytest.param(c, v, id=f"{c} × {v}") for c in CHANGES for v in VIEWS]
    + [
        pytest.param(
            "excluded by policy", v, id=f"excluded jurisdiction (FR added to the list) × {v}"
        )
        for v in VIEWS
    ],
)
def test_a_face_no_longer_active_vanishes_from_results_already_shown(
    client, dpo, teammate, settings, change, view
):
    """teammate's search (probe img2) found person01's img1; then the change. The earlier result must no
    longer show that face anywhere and its crop must 404; someone else's face (img3) is untouched."""
    indexed = index_photos("img1.jpg", "img3.jpg", jurisdiction="FR")
    search = finished_search(teammate)
    face_id = indexed["img1.jpg"].faces.get().pk
    check = VIEWS[view]
    assert check(teammate, search, face_id)[0], "shown before the change"
    if change == "excluded by policy":
        _exclude_by_policy(client, dpo, settings)
    else:
        CHANGES[change](client, dpo)
        # Rectified to an excluded country, the photo is erased (search.stewardship.faces_set_jurisdiction);
        # restricted, it stays but is no longer active.
        face = Face.objects.filter(pk=face_id).first()
        assert face is None or face.status != Face.Status.ACTIVE or face.jurisdiction == "GB"
    shown, evidence = check(teammate, search, face_id)
    assert not shown, evidence


def test_the_index_size_on_a_result_is_dated(teammate):
    """Row "index size × earlier result page and API": the count is said to be the index on the search's
    date (a historical fact), in the page and in the API (operating_point.searched_at)."""
    index_photos("img1.jpg", "img3.jpg")
    search = finished_search(teammate)
    from django.test import Client

    web = Client()
    web.force_login(teammate)
    html = web.get(reverse("search:status", args=[search.pk])).content.decode()
    when = search.completed_at.strftime("%Y-%m-%d")
    assert re.search(
        rf"Searched against {search.index_size} faces? on {when} \d\d:\d\d: the index at that moment",
        html,
    ), html
    body = token_client(teammate).get(reverse("api-search-detail", args=[search.pk])).json()
    assert body["operating_point"]["index_size"] == search.index_size
    assert body["operating_point"]["searched_at"].startswith(when)
