"""Shared fixtures: personas, a real Celery worker process, a throwaway Redis."""

from __future__ import annotations

import copy
import hashlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from accounts.models import Role
from tests.accounts import factories

BASE_DIR = Path(__file__).resolve().parent.parent

# The live test server listens with Django's backlog of 10 connections; the parallel-request tests open
# 30 at the same instant, and on a loaded machine the kernel would reset the surplus before the server
# accepts them. Production runs gunicorn, whose backlog is 2048.
from django.core.servers.basehttp import WSGIServer  # noqa: E402

WSGIServer.request_queue_size = 128
ARTIFACTS = BASE_DIR / "test-artifacts"


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    """Rate-limit counters live in the (real, Redis) cache: start every test clean."""
    from django.core.cache import cache

    cache.clear()
    yield


# --- Face embeddings, computed once per photo per session -------------------------

# (pixels' SHA-256, their shape, the original's size and scale, the engine's code and FACE_* settings)
# -> the real model's analysis of that photo. Only this process's calls (Celery worker processes run
# the model themselves); a test marked ``real_engine`` always runs the model.
_ANALYSES: dict[tuple[object, ...], object] = {}
_ENGINE_SOURCE = hashlib.sha256((BASE_DIR / "search" / "engine.py").read_bytes()).hexdigest()


def _analysis_key(image) -> tuple[object, ...]:
    from search import engine

    pixels = image.pixels
    face_settings = tuple(
        sorted((k, repr(getattr(settings, k))) for k in dir(settings) if k.startswith("FACE_"))
    )
    return (
        hashlib.sha256(pixels.tobytes()).hexdigest(),
        pixels.shape,
        str(pixels.dtype),
        image.width,
        image.height,
        image.scale,
        engine.pipeline_version(),
        _ENGINE_SOURCE,
        face_settings,
    )


@pytest.fixture(autouse=True)
def _embeddings_once_per_photo(request, monkeypatch) -> None:
    """The real model runs once per photo (and pipeline) per session; later calls get a copy."""
    if request.node.get_closest_marker("real_engine"):
        return
    from search import engine

    real = engine.analyse_many

    def analyse_many(images):
        if settings.FACE_EMBED_JITTERS:  # random crops: each run embeds differently, never cached
            return real(images)
        keys = [_analysis_key(image) for image in images]
        missing = [i for i, key in enumerate(keys) if key not in _ANALYSES]
        if missing:
            for i, analysis in zip(missing, real([images[i] for i in missing]), strict=True):
                _ANALYSES[keys[i]] = analysis
        else:
            with engine.work_slot():  # a busy engine still refuses, as without the cache
                pass
        return [copy.deepcopy(_ANALYSES[key]) for key in keys]

    monkeypatch.setattr(engine, "analyse_many", analyse_many)


# --- Personas -----------------------------------------------------------------


@pytest.fixture
def org(db):
    return factories.organisation("Acme Investigations")


@pytest.fixture
def other_org(db):
    return factories.organisation("Other Corp")


@pytest.fixture
def owner(org):
    """Org admin of ``org``, with TOTP enrolled."""
    u = factories.member(org, role=Role.ORG_ADMIN, email="owner@acme.example")
    u.totp_secret = factories.with_totp(u)
    return u


@pytest.fixture
def teammate(org):
    return factories.member(org, role=Role.ANALYST, email="analyst@acme.example")


@pytest.fixture
def stranger(other_org):
    """Org admin of another organisation, with TOTP enrolled."""
    u = factories.member(other_org, role=Role.ORG_ADMIN, email="admin@other.example")
    factories.with_totp(u)
    return u


@pytest.fixture
def dpo(db):
    u = factories.staff("dpo", email="dpo@facesearch.example")
    factories.with_totp(u)
    return u


@pytest.fixture
def auditor(db):
    u = factories.staff("auditor", email="auditor@facesearch.example")
    factories.with_totp(u)
    return u


# --- Real services --------------------------------------------------------------


def _celery_app():
    from config.celery import app

    return app


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker) -> Iterator[str]:
    """A real ``celery worker`` process on all queues, on the test database and test broker."""
    from config import devservices

    app = _celery_app()
    name = f"test-{uuid.uuid4().hex[:8]}@localhost"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.test_settings",
        "DATABASE_URL": devservices.database_url(settings.DATABASES["default"]),
        "REDIS_URL": settings.REDIS_URL,
        "PYTHONUNBUFFERED": "1",
    }
    app.control.purge()
    suffix = (
        f"-{os.environ['PYTEST_XDIST_WORKER']}" if os.environ.get("PYTEST_XDIST_WORKER") else ""
    )
    (BASE_DIR / ".data").mkdir(exist_ok=True)
    log = open(BASE_DIR / ".data" / f"test-worker{suffix}.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            "default,gpu,crawl",
            "--pool",
            "solo",
            "-n",
            name,
            "-l",
            "INFO",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 180  # a loaded machine: the worker imports the face stack
    while True:
        replies = app.control.ping(destination=[name], timeout=1.0)
        if replies:
            break
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"Celery worker did not start; see {log.name}")
    yield name
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture
def throwaway_redis(tmp_path) -> Iterator[str]:
    """A separate, real redis-server the test may stop."""
    from config import devservices

    port = devservices.free_port()
    devservices.start_redis_daemon(tmp_path / "redis", port)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        yield url
    finally:
        devservices.stop_redis_daemon(tmp_path / "redis", port)


# --- Object storage (S3) ---------------------------------------------------------------


class SeaweedFS:
    """A real ``weed server`` with an S3 gateway, in a throwaway folder, that a test may stop and restart."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.url = ""

    def start(self) -> str:
        from config import devservices

        self.url = devservices.start_seaweedfs_server(self.directory)
        return self.url

    def stop(self) -> None:
        from config import devservices

        devservices.stop_seaweedfs_server(self.directory)

    def running(self) -> bool:
        from config import devservices

        return devservices._seaweedfs_ready(self.directory)

    def client(self):
        from config import devservices

        return devservices._seaweedfs_client(self.directory, timeout=5.0)

    def objects(self, prefix: str = "") -> list[str]:
        """Every object in the bucket (under ``prefix``), listed by S3 itself, not through Django."""
        from config import devservices

        pages = (
            self.client()
            .get_paginator("list_objects_v2")
            .paginate(Bucket=devservices.SEAWEEDFS_BUCKET, Prefix=prefix)
        )
        return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))

    def empty(self) -> None:
        from config import devservices

        client = self.client()
        for key in self.objects():
            client.delete_object(Bucket=devservices.SEAWEEDFS_BUCKET, Key=key)


@pytest.fixture(scope="session")
def seaweedfs_server(tmp_path_factory) -> Iterator[SeaweedFS]:
    """One SeaweedFS for the session's S3 tests, started like PostgreSQL and Redis (about 5 s)."""
    server = SeaweedFS(tmp_path_factory.mktemp("seaweedfs"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_storage(seaweedfs_server, settings) -> Iterator[SeaweedFS]:
    """Media storage is the S3 bucket for this test (this process; workers get ``STORAGE_URL``), emptied first."""
    import environ

    from config.storage import media_storage

    if not seaweedfs_server.running():  # an outage test stopped it
        seaweedfs_server.start()
    seaweedfs_server.empty()
    env = environ.Env()
    old = os.environ.get("STORAGE_URL")
    os.environ["STORAGE_URL"] = seaweedfs_server.url
    try:
        settings.STORAGES = {**settings.STORAGES, "default": media_storage(env, production=False)}
    finally:
        if old is None:
            os.environ.pop("STORAGE_URL")
        else:
            os.environ["STORAGE_URL"] = old
    yield seaweedfs_server
