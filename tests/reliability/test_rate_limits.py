"""Rate limits are atomic: 30 parallel real HTTP requests against a limit of 10 let exactly 10 through.

The requests go over real sockets to the live test server (a threaded WSGI server), so they
really run at once; the counter is Redis INCR, or the database fallback while Redis is down.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from accounts.models import Role
from search.models import SearchRequest
from subjects.models import SubjectRequest
from tests.accounts import factories
from tests.accounts.factories import api_token
from tests.reliability.faults import face_workers_paused, fallback_cache_clear, redis_stop
from tests.search import photos

pytestmark = pytest.mark.django_db(transaction=True)

PARALLEL = 30
LIMIT = 10
FIELDS = {
    "purpose": "Identify a fraud suspect",
    "lawful_basis": "legitimate_interests",
    "case_reference": "CASE-9",
}


def fresh_window(seconds: int, margin: float = 8.0) -> None:
    """Wait until the fixed window has at least ``margin`` seconds left, so one burst stays in one window."""
    left = seconds - time.time() % seconds
    if left < margin:
        time.sleep(left + 0.2)


def burst(send, n: int = PARALLEL) -> Counter[int]:
    """Send ``n`` requests at the same instant (a barrier releases all threads together)."""
    barrier = threading.Barrier(n)

    def one(i: int) -> int:
        barrier.wait()
        return send(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return Counter(pool.map(one, range(n)))


@pytest.fixture(autouse=True)
def _no_face_work():
    """The searches of a burst stay pending: no session worker embeds them during the test's teardown."""
    with face_workers_paused():
        yield


@pytest.fixture
def token(db):
    org = factories.organisation("Parallel Ltd")
    org.monthly_search_quota = 10_000
    org.save()
    user = factories.member(org, role=Role.ANALYST, email="parallel@acme.example")
    return api_token(user)


@pytest.fixture
def remove_probes():
    yield
    for search in SearchRequest.objects.exclude(probe=""):
        Path(settings.MEDIA_ROOT, search.probe.name).unlink(missing_ok=True)


def search_burst(live_server, token: str) -> Counter[int]:
    image = photos.photo("img2.jpg")
    url = f"{live_server.url}/api/v1/searches/"

    def send(i: int) -> int:
        with httpx.Client(timeout=60) as client:
            response = client.post(
                url,
                headers={"Authorization": f"Token {token}"},
                data=FIELDS,
                files={"image": ("probe.jpg", image, "image/jpeg")},
            )
        if response.status_code == 429:
            assert response.json()["error"]["code"] == "limit_exceeded"
        return response.status_code

    fresh_window(60)
    return burst(send)


def test_parallel_searches_exactly_the_limit_passes(live_server, settings, token, remove_probes):
    """Bad input: 30 simultaneous searches against 10 a minute (the old check-then-increment let 12 through)."""
    settings.SEARCH_RATE_LIMIT_PER_MINUTE = LIMIT
    codes = search_burst(live_server, token)
    assert codes == Counter({202: LIMIT, 429: PARALLEL - LIMIT})
    assert SearchRequest.objects.count() == LIMIT


def test_parallel_searches_with_redis_down_use_the_database_counter(
    live_server, settings, token, throwaway_redis, remove_probes
):
    """Bad input: the same burst while the cache's Redis is stopped: still exactly 10, via the database table."""
    settings.SEARCH_RATE_LIMIT_PER_MINUTE = LIMIT
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": throwaway_redis}}
    redis_stop(throwaway_redis)
    fallback_cache_clear()
    codes = search_burst(live_server, token)
    assert codes == Counter({202: LIMIT, 429: PARALLEL - LIMIT})
    assert SearchRequest.objects.count() == LIMIT


def test_parallel_public_requests_exactly_the_limit_passes(live_server, settings):
    """Bad input: 30 simultaneous public requests from one address against 10 an hour."""
    settings.SUBJECT_REQUESTS_PER_IP_PER_HOUR = LIMIT
    url = f"{live_server.url}/rights/request/access/"
    with httpx.Client() as client:
        page = client.get(url)
        assert page.status_code == 200
        csrf = client.cookies["csrftoken"]

    def send(i: int) -> int:
        with httpx.Client(timeout=60, cookies={"csrftoken": csrf}) as client:
            response = client.post(
                url,
                data={"email": f"person{i}@example.net", "csrfmiddlewaretoken": csrf},
                headers={"Referer": url},
            )
        if response.status_code == 429:
            assert "Too many requests" in response.text
        return response.status_code

    fresh_window(3600, margin=30)
    codes = burst(send)
    assert codes == Counter(
        {302: LIMIT, 429: PARALLEL - LIMIT}
    )  # filed: redirected to the status page
    assert SubjectRequest.objects.count() == LIMIT
