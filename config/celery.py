"""The Celery application: serialisation, durability, routing and the beat schedule.

Queues:
- ``gpu``: face detection and embedding (``search.tasks``); one worker process per GPU.
- ``crawl``: fetching and ingesting approved sources (``crawling.tasks``).
- ``default``: everything else (subject requests, compliance sweeps, email).
"""

from __future__ import annotations

import os

from celery import Celery
from celery.schedules import crontab
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("facesearch")
app.config_from_object("django.conf:settings", namespace="CELERY")

app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    # Durable work: a task is acknowledged only after it finished, and a task whose worker
    # died (OOM, kill -9) goes back to the queue instead of being lost. Tasks are idempotent.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_track_started=True,
    result_expires=60 * 60 * 24,
    broker_connection_retry_on_startup=True,
    # Redis redelivers unacknowledged tasks after this long; longer than the hard time limit.
    broker_transport_options={"visibility_timeout": 60 * 60 * 2},
    task_default_queue="default",
    task_queues=(Queue("default"), Queue("gpu"), Queue("crawl")),
    task_routes={
        "search.tasks.requeue_stuck": {"queue": "default"},
        "crawling.tasks.requeue_stalled": {"queue": "default"},
        "search.tasks.*": {"queue": "gpu"},
        "crawling.tasks.*": {"queue": "crawl"},
    },
    beat_scheduler="django_celery_beat.schedulers:DatabaseScheduler",
    timezone="UTC",
)

# The one place for periodic work. Each entry says why it runs at that cadence.
app.conf.beat_schedule = {
    # Expired invitations are dead links; clearing them hourly keeps the members page honest
    # without load (a handful of rows).
    "accounts-expire-invitations": {
        "task": "accounts.tasks.invitations_expire",
        "schedule": crontab(minute=7),
    },
    # A lost face task (Redis flushed, worker killed) leaves a row waiting; analysts watch
    # searches live, so look every two minutes (rows stuck for five are re-enqueued).
    "search-requeue-stuck": {
        "task": "search.tasks.requeue_stuck",
        "schedule": crontab(minute="*/2"),
    },
    # Retention is counted in days, so a daily sweep keeps every class within a day of its
    # policy; at 02:30 UTC, off-peak for European customers.
    "compliance-retention-sweep": {
        "task": "compliance.tasks.retention_sweep_all",
        "schedule": crontab(minute=30, hour=2),
    },
    # Anything tied to an excluded country that slipped in (a source re-classified, the list
    # extended) is purged the same day.
    "compliance-jurisdiction-sweep": {
        "task": "compliance.tasks.jurisdiction_sweep",
        "schedule": crontab(minute=45, hour=2),
    },
    # A crawl job whose worker died has no heartbeat; five minutes of silence re-enqueues it.
    "crawling-requeue-stalled": {
        "task": "crawling.tasks.requeue_stalled",
        "schedule": crontab(minute="*/5"),
    },
    # The DPO starts the day with what is overdue or due within a week.
    "subjects-dpo-digest": {
        "task": "subjects.tasks.dpo_digest",
        "schedule": crontab(minute=0, hour=7),
    },
    # Unconfirmed requests lapse by the day; hourly keeps the notice timely.
    "subjects-requests-lapse": {
        "task": "subjects.tasks.requests_lapse",
        "schedule": crontab(minute=20),
    },
    # A download link's expiry is to the hour: the package goes within the hour after.
    "subjects-access-packages-expire": {
        "task": "subjects.tasks.access_packages_expire",
        "schedule": crontab(minute=40),
    },
    # Repeated live-check failures raise a signal even if the capture flow did not: every 15 minutes keeps the
    # DPO ahead of an attacker's next try; the sweep looks back 48 hours, so a missed run loses nothing.
    "subjects-abuse-capture-sweep": {
        "task": "subjects.tasks.abuse_capture_sweep",
        "schedule": crontab(minute="*/15"),
    },
    # Emails whose sending failed (mail server down) stay in the outbox; retry every minute.
    "compliance-emails-send-pending": {
        "task": "compliance.tasks.emails_send_pending",
        "schedule": crontab(minute="*"),
    },
    # An anchor a day bounds how much of the log could be rewritten unnoticed to one day, and
    # a day is what auditors compare against; just after midnight UTC, when the day is closed.
    "compliance-audit-anchor": {
        "task": "compliance.tasks.audit_anchor_write",
        "schedule": crontab(minute=5, hour=0),
    },
    # The sequencer process (`manage.py audit_sequencer`, started by `make run`) signs checkpoints
    # within a second; this is its safety net should it be down (a lock keeps them one at a time).
    "compliance-audit-sequence": {
        "task": "compliance.tasks.audit_sequence",
        "schedule": 30.0,
    },
    # The public transparency report shows how far the audit chain verifies; a full check rereads
    # every row, so it runs here hourly rather than on a visitor's request.
    "compliance-transparency-chain-check": {
        "task": "compliance.tasks.transparency_chain_check",
        "schedule": crontab(minute=50),
    },
    # Live capture frames are kept at most until the request is due (a date): an hourly sweep deletes
    # an undecided capture's frames within the hour after its day ends, or after its request closes.
    "subjects-live-captures-sweep": {
        "task": "subjects.tasks.live_captures_sweep",
        "schedule": crontab(minute=25),
    },
}

app.autodiscover_tasks()
app.conf.imports = ("config.tasks",)
