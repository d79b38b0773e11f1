"""Subject-request housekeeping (default queue)."""

from __future__ import annotations

from celery import shared_task

from subjects import services


@shared_task(name="subjects.tasks.requests_lapse")
def requests_lapse() -> int:
    """Close requests whose email was never confirmed, with a notice."""
    return services.requests_lapse()


@shared_task(name="subjects.tasks.access_packages_expire")
def access_packages_expire() -> int:
    """Delete access packages whose download link expired."""
    return services.access_packages_expire()


@shared_task(name="subjects.tasks.dpo_digest")
def dpo_digest() -> int:
    """Email the DPO the overdue and soon-due requests."""
    return services.dpo_digest()


@shared_task(name="subjects.tasks.live_captures_sweep")
def live_captures_sweep() -> int:
    """Delete the frames of live captures the DPO has not decided by the request's due date."""
    from subjects.capture import captures_sweep

    return captures_sweep()


@shared_task(name="subjects.tasks.abuse_capture_sweep")
def abuse_capture_sweep() -> int:
    """Raise the repeated-capture-failure signal for requests that failed the live checks recently."""
    from subjects import abuse

    return abuse.abuse_capture_sweep()
