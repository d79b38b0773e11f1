"""Browser tests: Playwright drives Debian's chromium against the live test server."""

from __future__ import annotations


def django_connections_checked() -> None:
    """Check the database connections the test body will use inside Playwright.

    Playwright's sync API leaves an asyncio loop marked running in this thread, so Django keeps a
    separate set of connections for code under ``sync_playwright()``. Those outlive the test and are
    never health-checked; after a test that restarted PostgreSQL they are dead. Marking them for a
    health check makes the next query reconnect instead of failing.
    """
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        connection.close_if_unusable_or_obsolete()
