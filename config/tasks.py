"""Infrastructure tasks: a round-trip probe for health checks and tests."""

from __future__ import annotations

from celery import shared_task
from django.db import connection


@shared_task(name="config.tasks.ping")
def ping(token: str) -> dict[str, object]:
    """Echo ``token`` and prove the worker reaches the database."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database()")
        (database,) = cursor.fetchone()
    return {"token": token, "database": database}
