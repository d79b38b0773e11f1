"""The served OpenAPI schema gives a usable client: the upload is a binary file, each operation has
one request format, the JPEG endpoints are there, and the repeat-search hold is documented."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.accounts.factories import api_token

pytestmark = pytest.mark.django_db

SEARCH = "/api/v1/searches/{search_id}"


@pytest.fixture
def schema(teammate) -> dict:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(teammate)}")
    answer = client.get("/api/schema/", {"format": "json"})
    assert answer.status_code == 200
    return answer.json()


def _component(schema: dict, ref: str) -> dict:
    return schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]


def test_the_upload_is_a_binary_file_in_multipart(schema):
    """Input: the search create operation; its body must be multipart with image format binary."""
    body = schema["paths"]["/api/v1/searches/"]["post"]["requestBody"]["content"]
    assert list(body) == ["multipart/form-data"]
    image = _component(schema, body["multipart/form-data"]["schema"]["$ref"])["properties"]["image"]
    assert image == {"type": "string", "format": "binary"}


@pytest.mark.parametrize("path", ["choose", "confirm-repeat", "access-restriction"])
def test_every_json_operation_offers_one_request_format(schema, path):
    """Input: the POSTs with a body other than the upload; each must offer application/json only."""
    body = schema["paths"][f"{SEARCH}/{path}/"]["post"]["requestBody"]["content"]
    assert list(body) == ["application/json"]


def test_a_body_in_another_format_is_refused_as_unsupported(teammate):
    """Input: the search upload sent form-encoded (no file part), as a client ignoring the schema."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(teammate)}")
    answer = client.generic(
        "POST",
        "/api/v1/searches/",
        "case_reference=X",
        content_type="application/x-www-form-urlencoded",
    )
    assert answer.status_code == 415 and answer.json()["error"]["code"] == "unsupported_media_type"


@pytest.mark.parametrize(
    "path", [f"{SEARCH}/hits/{{face_id}}/crop/", f"{SEARCH}/faces/{{index}}/thumbnail/"]
)
def test_the_jpeg_endpoints_are_in_the_schema(schema, path):
    """Input: the crop and thumbnail paths; each must answer image/jpeg as binary."""
    ok = schema["paths"][path]["get"]["responses"]["200"]["content"]
    assert ok == {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}


def test_the_hold_and_its_calls_are_documented(schema):
    """Input: the detail's status and confirmation, and the confirm and cancel operations."""
    status = _component(schema, "StatusEnum")
    assert "needs_confirmation" in status["enum"]
    confirm = schema["paths"][f"{SEARCH}/confirm-repeat/"]["post"]
    assert "case_reference" in confirm["description"]
    assert {"200", "400", "403", "404", "409"} <= set(confirm["responses"])
    assert "not_your_search" in confirm["responses"]["403"]["description"]
    cancel = schema["paths"][f"{SEARCH}/cancel-repeat/"]["post"]
    assert "requestBody" not in cancel and "not_held" in cancel["responses"]["409"]["description"]
