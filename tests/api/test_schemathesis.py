"""Property-based API tests: schemathesis against the live test server, with a real analyst's token.

Every operation of the published OpenAPI schema gets generated input, valid and invalid
(wrong types, missing fields, random bytes as the photo, ids out of range). The test fails on
any 5xx, on a status code the schema does not list, and on a body, content type or header that
does not conform to the schema. The search upload runs too, but random bytes are never a photo,
so no face model work is done; a known-good search and crop are validated separately.
"""

from __future__ import annotations

import json

import pytest
import schemathesis
from django.core.files.base import ContentFile
from django.utils import timezone
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from accounts.models import Role
from search.models import Face, ProbeFace, SearchHit, SearchRequest, SourceImage
from tests.accounts import factories
from tests.accounts.factories import api_token
from tests.search import photos

MAX_EXAMPLES = 25


@pytest.fixture
def analyst(transactional_db):
    org = factories.organisation("Schemathesis Ltd")
    return factories.member(org, role=Role.ANALYST, email="fuzz@schemathesis.example")


@pytest.fixture
def token(analyst) -> str:
    return api_token(analyst)


def _published_schema() -> dict:
    """The schema /api/schema/ serves, generated in-process (JSON round trip for plain types)."""
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    return json.loads(
        OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True))
    )


# Built at collection (schemathesis' fixture-based loader does not support pytest 9 yet).
schema = schemathesis.openapi.from_dict(_published_schema())


@pytest.fixture
def api_schema():
    return schema


def test_the_test_uses_the_schema_that_is_served(client, analyst):
    client.force_login(analyst)
    served = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert served.status_code == 200
    assert served.json()["paths"] == _published_schema()["paths"]


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema_and_never_answers_5xx(case, live_server, token):
    # A schema cannot say "a photo with a usable face": for the upload, schema-valid input (random
    # bytes, or a text part where the file goes) is rightly refused with 400, so that check is off there.
    # And a multipart form has no types: every part is text, so a "null" or number mutation of a text
    # field arrives as the text "null" or "12", a valid case reference; the rejection check is off
    # there too (the upload's real refusals are tested in tests/search and tests/invariants).
    upload = case.operation.path == "/api/v1/searches/" and case.method == "POST"
    case.call_and_validate(
        base_url=live_server.url,
        headers={"Authorization": f"Token {token}"},
        excluded_checks=[positive_data_acceptance, negative_data_rejection] if upload else None,
    )


def _done_search_with_a_hit(analyst) -> tuple[SearchRequest, Face]:
    image = SourceImage.objects.create(
        sha256="f" * 64,
        width=10,
        height=10,
        format="JPEG",
        byte_size=10,
        source_label="demo import",
        original_name="img1.jpg",
        file="sources/none.jpg",
    )
    face = Face(
        image=image,
        box_x=0,
        box_y=0,
        box_w=10,
        box_h=10,
        detection_score=1.0,
        embedding=[0.1] * 128,
        model="Dlib",
        detector="dlib",
    )
    face.crop.save("schemathesis-crop.jpg", ContentFile(photos.photo("img1.jpg")), save=False)
    face.save()
    search = SearchRequest.objects.create(
        organisation=analyst.membership.organisation,
        user=analyst,
        purpose="p",
        lawful_basis="public_task",
        case_reference="c",
        status=SearchRequest.Status.DONE,
        completed_at=timezone.now(),
        model="Dlib",
    )
    SearchHit.objects.create(search=search, face=face, distance=0.05, confidence=0.9, rank=1)
    return search, face


def test_known_good_responses_conform_to_the_schema(api_schema, live_server, analyst, token):
    """The generated ids almost never exist: validate a finished search, its crop and a face choice explicitly."""
    headers = {"Authorization": f"Token {token}"}
    search, face = _done_search_with_a_hit(analyst)
    detail = api_schema["/api/v1/searches/{search_id}/"]["GET"].Case(
        path_parameters={"search_id": search.pk}
    )
    body = detail.call_and_validate(base_url=live_server.url, headers=headers).json()
    assert body["hits"][0]["file_name"] == "img1.jpg" and body["hits"][0]["page_url"] == ""
    crop = api_schema["/api/v1/searches/{search_id}/hits/{face_id}/crop/"]["GET"].Case(
        path_parameters={"search_id": search.pk, "face_id": face.pk}
    )
    fetched = crop.call_and_validate(base_url=live_server.url, headers=headers)
    assert fetched.status_code == 200 and fetched.content[:3] == b"\xff\xd8\xff"

    choosing = SearchRequest.objects.create(
        organisation=search.organisation,
        user=analyst,
        purpose="p",
        lawful_basis="public_task",
        case_reference="c",
        status=SearchRequest.Status.CHOOSE_FACE,
        model="Dlib",
    )
    ProbeFace.objects.create(
        search=choosing,
        index=0,
        box=[0, 0, 10, 10],
        thumbnail=b"\xff\xd8\xff",
        embedding=[0.1] * 128,
    )
    detail = api_schema["/api/v1/searches/{search_id}/"]["GET"].Case(
        path_parameters={"search_id": choosing.pk}
    )
    assert (
        detail.call_and_validate(base_url=live_server.url, headers=headers).json()[
            "faces_to_choose"
        ][0]["index"]
        == 0
    )
    thumb = api_schema["/api/v1/searches/{search_id}/faces/{index}/thumbnail/"]["GET"].Case(
        path_parameters={"search_id": choosing.pk, "index": 0}
    )
    assert thumb.call_and_validate(base_url=live_server.url, headers=headers).status_code == 200
