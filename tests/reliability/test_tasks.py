"""Face tasks under fault injection, with real worker processes killed for real.

The worker is a real ``celery worker`` (prefork, one child, as ``make run`` starts it) on the
test database and broker, loading the test-only app ``tests.reliability.fault_worker`` (production
code carries no hook). Two variables in the worker's environment drive it: ``FACE_TEST_HOLD_FILE``
(the task waits while that file exists, so the test can kill it mid-search) and
``FACE_TEST_CRASH_SHA256`` (the worker SIGKILLs itself on that photo, as a photo that crashes the
face model would).
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from compliance.models import AuditEvent
from search import services
from search.models import SearchRequest, SourceImage
from tests.accounts.factories import api_token
from tests.reliability.faults import face_workers_paused
from tests.search import photos

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

BASE_DIR = Path(__file__).resolve().parents[2]
FIELDS = {
    "purpose": "Identify a fraud suspect",
    "lawful_basis": "legitimate_interests",
    "case_reference": "CASE-7",
}
POISON = "img5.jpg"


def _app():
    from config.celery import app

    return app


class Worker:
    """A real worker process group that a test may SIGKILL."""

    def __init__(self, log: Path, **env: str) -> None:
        from config import devservices

        self.name = f"fault-{uuid.uuid4().hex[:8]}@localhost"
        full_env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.test_settings",
            "DATABASE_URL": devservices.database_url(settings.DATABASES["default"]),
            "REDIS_URL": settings.REDIS_URL,
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.log = log.open("a")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "tests.reliability.fault_worker",
                "worker",
                "-Q",
                "gpu",
                "--pool",
                "prefork",
                "--concurrency",
                "1",
                "-n",
                self.name,
                "-l",
                "INFO",
            ],
            cwd=BASE_DIR,
            env=full_env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(
            lambda: bool(_app().control.ping(destination=[self.name], timeout=1.0)),
            90,
            f"worker start ({log})",
        )

    def kill(self) -> None:
        """SIGKILL the worker and its child: nothing gets to clean up."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.log.close()


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)


@pytest.fixture
def workers(tmp_path) -> Iterator[Callable[..., Worker]]:
    """Start fault-injected workers; other test workers stop taking face tasks meanwhile."""
    started: list[Worker] = []

    def start(**env: str) -> Worker:
        worker = Worker(tmp_path / "worker.log", **env)
        started.append(worker)
        return worker

    with face_workers_paused():
        yield start
        for worker in started:
            worker.stop()


def probe_on_disk(search: SearchRequest) -> bool:
    """This search's own probe file (other tests' searches left pending keep theirs in the same folder)."""
    return bool(search.probe) and (Path(settings.MEDIA_ROOT) / str(search.probe.name)).is_file()


def test_sigkill_mid_search_counts_the_attempt_and_a_new_worker_finishes_it(
    workers, teammate, tmp_path
):
    """Fault: the worker is SIGKILLed while it embeds the probe (the transaction never commits)."""
    hold = tmp_path / "hold"
    hold.touch()
    worker = workers(FACE_TEST_HOLD_FILE=str(hold))
    search = services.search_create(user=teammate, image_data=photos.photo("img2.jpg"), **FIELDS)
    # The attempt is committed before the work starts: visible from this process while the task runs.
    wait_for(
        lambda: SearchRequest.objects.get(pk=search.pk).attempts == 1,
        60,
        "the first attempt to be counted",
    )
    worker.kill()
    search.refresh_from_db()
    assert (search.status, search.attempts) == (SearchRequest.Status.PENDING, 1)
    assert probe_on_disk(search), "the probe must survive a crash so that the retry can use it"
    probe_path = Path(settings.MEDIA_ROOT) / str(search.probe.name)

    hold.unlink()
    workers()
    # Five minutes later the sweeper (beat, every two minutes) finds the lost task and re-enqueues it.
    SearchRequest.objects.filter(pk=search.pk).update(
        status_changed_at=timezone.now() - timedelta(minutes=10)
    )
    assert services.searches_requeue_stuck()["searches"] == 1
    wait_for(
        lambda: SearchRequest.objects.get(pk=search.pk).is_finished, 90, "the search to finish"
    )
    search.refresh_from_db()
    assert search.status == SearchRequest.Status.DONE, search.error
    assert search.attempts == 2
    assert not probe_path.exists() and not search.probe


def test_poison_photo_is_quarantined_after_max_attempts_with_the_reason_shown(
    workers, teammate, client
):
    """Fault: a photo that kills the worker every time (redelivered by reject_on_worker_lost each time)."""
    data = photos.photo(POISON)
    workers(FACE_TEST_CRASH_SHA256=hashlib.sha256(data).hexdigest())
    search = services.search_create(user=teammate, image_data=data, **FIELDS)
    probe_path = Path(settings.MEDIA_ROOT) / str(search.probe.name)
    wait_for(
        lambda: SearchRequest.objects.get(pk=search.pk).is_finished,
        240,
        "the poison search to be quarantined",
    )
    search.refresh_from_db()
    n = settings.FACE_TASK_MAX_ATTEMPTS
    assert search.status == SearchRequest.Status.FAILED
    assert search.attempts == n
    assert (
        search.error == f"This photo could not be processed: it stopped the face model {n} times."
    )
    assert not probe_path.exists() and not search.probe
    event = AuditEvent.objects.get(action="search.search.quarantined", target_id=str(search.pk))
    assert event.details["attempts"] == n and event.details["probe_deleted"] is True

    # The sweeper never brings a quarantined search back.
    SearchRequest.objects.filter(pk=search.pk).update(
        status_changed_at=timezone.now() - timedelta(hours=1)
    )
    assert services.searches_requeue_stuck() == {"searches": 0, "images": 0, "failed": 0}
    search.refresh_from_db()
    assert search.status == SearchRequest.Status.FAILED

    # The analyst sees why, in the UI and over the API.
    client.force_login(teammate)
    page = client.get(reverse("search:detail", args=[search.pk]))
    assert f"it stopped the face model {n} times" in page.content.decode()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_token(teammate)}")
    body = api.get(reverse("api-search-detail", args=[search.pk])).json()
    assert body["status"] == "failed" and f"stopped the face model {n} times" in body["error"]


def test_poison_source_photo_is_isolated_and_quarantined_and_its_batch_mate_indexed(workers):
    """Fault: one poison photo in a batch of two; the good one must still be indexed."""
    poison = services.source_image_store(data=photos.photo(POISON), source_label="fault test").image
    good = services.source_image_store(
        data=photos.photo("img3.jpg"), source_label="fault test"
    ).image
    assert poison is not None and good is not None
    workers(FACE_TEST_CRASH_SHA256=poison.sha256)
    from search.tasks import source_images_analyse

    source_images_analyse.delay([poison.pk, good.pk])
    finished = (SourceImage.Status.DONE, SourceImage.Status.FAILED, SourceImage.Status.NO_FACE)
    wait_for(
        lambda: (
            SourceImage.objects.filter(pk__in=[poison.pk, good.pk], status__in=finished).count()
            == 2
        ),
        240,
        "both images to be settled",
    )
    poison.refresh_from_db()
    good.refresh_from_db()
    n = settings.FACE_TASK_MAX_ATTEMPTS
    assert good.status == SourceImage.Status.DONE and good.faces.count() == 1
    assert poison.status == SourceImage.Status.FAILED and poison.attempts == n
    assert (
        poison.error == f"This photo could not be processed: it stopped the face model {n} times."
    )
    assert AuditEvent.objects.filter(
        action="search.source_image.quarantined", target_id=str(poison.pk)
    ).exists()
    SourceImage.objects.filter(pk=poison.pk).update(
        status_changed_at=timezone.now() - timedelta(hours=1)
    )
    assert services.searches_requeue_stuck()["images"] == 0
