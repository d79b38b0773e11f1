"""Infrastructure tasks: a round-trip probe for health checks and tests, and the one way to enqueue work."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.db import connection

logger = logging.getLogger(__name__)


def _broker_errors() -> tuple[type[BaseException], ...]:
    from kombu.exceptions import OperationalError as KombuOperationalError
    from redis.exceptions import RedisError

    # RuntimeError: kombu's and the redis result backend's reconnect raise it once a warm process lost Redis.
    return (KombuOperationalError, RedisError, OSError, RuntimeError)


def enqueue(task: Any, *args: Any, **kwargs: Any) -> bool:
    """Send ``task`` to the broker; False, logged, when the broker is unreachable.

    Every piece of work is a row with a status first (house style 8), so a lost message costs only a
    delay: the sweepers (``search.tasks.requeue_stuck``, ``crawling.tasks.requeue_stalled``, the emails'
    outbox) queue it again. The web process therefore never fails a request because Redis is down. The log
    line names the task and the error's class only: arguments are ids, but nothing personal is logged.
    """
    try:
        task.delay(*args, **kwargs)
    except _broker_errors() as exc:
        logger.warning(
            "%s not queued (%s); its sweeper will queue it",
            getattr(task, "name", task),
            type(exc).__name__,
        )
        return False
    return True


def enqueue_on_commit(task: Any, *args: Any, **kwargs: Any) -> None:
    """``enqueue`` once the current transaction commits (at once outside one)."""
    from django.db import transaction

    transaction.on_commit(lambda: enqueue(task, *args, **kwargs))


# The probe's result is read by tests (the one task whose result is kept).
@shared_task(name="config.tasks.ping", ignore_result=False)
def ping(token: str) -> dict[str, object]:
    """Echo ``token`` and prove the worker reaches the database."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database()")
        (database,) = cursor.fetchone()
    return {"token": token, "database": database}
