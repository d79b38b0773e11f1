"""Shared by the ingestion and results invariant modules: autouse fixtures, requests, API client."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from subjects import services as subject_services
from subjects.models import SubjectRequest
from tests.accounts import factories
from tests.search import photos
from tests.subjects.requests_support import approve_all, submit, verify

FIELDS = {
    "purpose": "Identify a fraud suspect",
    "lawful_basis": "legitimate_interests",
    "case_reference": "CASE-18",
}


@pytest.fixture(autouse=True)
def _empty_media():
    """Files outlive the test's rows; each row starts with empty media storage."""
    root = Path(settings.MEDIA_ROOT)
    for child in root.iterdir() if root.exists() else []:
        shutil.rmtree(child) if child.is_dir() else child.unlink()
    yield


@pytest.fixture(autouse=True)
def _work_in_process(monkeypatch):
    """The rows run the workers' services themselves; nothing is left queued in the broker."""
    from crawling import tasks as crawl_tasks
    from search import tasks as search_tasks

    for task in (
        search_tasks.search_process,
        search_tasks.source_images_analyse,
        crawl_tasks.crawl_job_run,
    ):
        monkeypatch.setattr(task, "delay", lambda *args, **kwargs: None)


def rights_request(client, dpo, kind: str, **execute) -> SubjectRequest:
    """person01 files ``kind`` on the rights portal with selfie img2, confirms it by email; the DPO confirms
    the faces found and carries it out."""
    extra = {"consent_keep_template": "on"} if kind == "objection" else {}
    if kind == "rectification":
        extra["correction"] = "I live in the United Kingdom"
    req = submit(client, kind, selfie=photos.photo("img2.jpg"), **extra)
    verify(client)
    req = approve_all(SubjectRequest.objects.get(pk=req.pk), dpo)
    return subject_services.request_execute(request=req, actor=dpo, **execute)


def token_client(user) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {factories.api_token(user)}")
    return api
