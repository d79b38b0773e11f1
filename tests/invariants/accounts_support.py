"""Shared by the accounts invariant modules: the organisation under test and its clients."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import Organisation, Role, User
from tests.accounts import factories

PASSWORD = factories.PASSWORD


NEW_PASSWORD = "another long passphrase for item 18"


def token_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def error(response) -> dict:
    return response.json()["error"]


@dataclass
class Org:
    org: Organisation
    owner: User
    analyst: User
    web: Client  # the analyst's browser session
    owner_web: Client
    key: str  # the analyst's API token

    @property
    def api(self) -> APIClient:
        return token_client(self.key)


@pytest.fixture
def acme(db) -> Org:
    org = factories.organisation("Deactivation Test Ltd")
    owner = factories.member(org, role=Role.ORG_ADMIN, email="owner@deact.example")
    factories.with_totp(owner)
    analyst = factories.member(org, email="analyst@deact.example")
    web, owner_web = Client(), Client()
    web.force_login(analyst)
    owner_web.force_login(owner)
    return Org(
        org=org,
        owner=owner,
        analyst=analyst,
        web=web,
        owner_web=owner_web,
        key=factories.api_token(analyst),
    )
