"""Celery: configuration and a task round-trip through a real worker process."""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings

from config.celery import app
from config.tasks import ping

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def test_task_round_trip_through_real_worker(celery_worker_process):
    token = uuid.uuid4().hex
    result = ping.delay(token)
    value = result.get(timeout=30)
    assert value == {"token": token, "database": settings.DATABASES["default"]["NAME"]}
    assert value["database"].startswith("test_")


def test_routing_and_durability_settings():
    conf = app.conf
    assert conf.task_serializer == "json"
    assert conf.accept_content == ["json"]
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.task_soft_time_limit < conf.task_time_limit
    assert {q.name for q in conf.task_queues} == {"default", "gpu", "crawl"}
    router = app.amqp.router
    assert router.route({}, "search.tasks.embed_faces")["queue"].name == "gpu"
    assert router.route({}, "crawling.tasks.crawl_page")["queue"].name == "crawl"
    assert router.route({}, "subjects.tasks.send_digest")["queue"].name == "default"
    assert router.route({}, "search.tasks.requeue_stuck")["queue"].name == "default"


def test_beat_schedule_tasks_exist():
    app.loader.import_default_modules()
    for entry in app.conf.beat_schedule.values():
        assert entry["task"] in app.tasks, entry["task"]
