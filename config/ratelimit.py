"""Atomic fixed-window rate limits on the Django cache (Redis INCR; the database while Redis is down).

``cache.add`` creates the window's counter only if it is missing, and ``cache.incr`` is a
single Redis INCR (a row-locked update on the database fallback, see config/cache.py), so
parallel requests can never both see "9 of 10" and both pass: exactly ``limit`` hits pass
in each window.
"""

from __future__ import annotations

import time

from django.core.cache import cache


def hit(*, key: str, limit: int, window_seconds: int) -> bool:
    """Count one hit against ``key``; True while the window's count is within ``limit``.

    Refused hits are counted too (a client that keeps trying stays refused for the window).
    """
    bucket = int(time.time() // window_seconds)
    counter = f"ratelimit:{key}:{bucket}"
    for _ in range(3):
        cache.add(counter, 0, timeout=window_seconds + 60)
        try:
            count = cache.incr(counter)
        except ValueError:  # expired or evicted between add and incr: create it again
            continue
        return count <= limit
    return False
