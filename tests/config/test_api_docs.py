"""/api/schema/ and /api/docs/: login required in production unless API_DOCS_PUBLIC opens them."""

from __future__ import annotations

import pytest

from tests.accounts.factories import api_token

pytestmark = pytest.mark.django_db


def test_production_schema_refuses_anonymous(settings, client):
    """An anonymous client (the probe found the schema public in production) is refused."""
    settings.API_DOCS_PUBLIC = False
    response = client.get("/api/schema/")
    assert response.status_code in (401, 403)
    assert b"openapi" not in response.content


def test_production_docs_send_people_to_login(settings, client):
    settings.API_DOCS_PUBLIC = False
    response = client.get("/api/docs/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/api/docs/")


def test_production_schema_with_a_token(settings, client, teammate):
    """An API client authenticates with its token and gets the schema."""
    settings.API_DOCS_PUBLIC = False
    response = client.get("/api/schema/", HTTP_AUTHORIZATION=f"Token {api_token(teammate)}")
    assert response.status_code == 200
    assert b"openapi" in response.content


def test_production_docs_for_a_signed_in_user(settings, client, teammate):
    settings.API_DOCS_PUBLIC = False
    client.force_login(teammate)
    assert client.get("/api/docs/").status_code == 200


def test_api_docs_public_opens_both(settings, client):
    settings.API_DOCS_PUBLIC = True
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200
