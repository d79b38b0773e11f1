"""bench/load.py's records of what each simulated user saw, and the small helpers that summarise them."""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from load_setup import FACES_DIR


@dataclass
class SearchRecord:
    id: int
    token: str
    submitted: float
    photo: str
    status: str = "pending"
    error: str = ""
    hits: int = 0
    chose_face: bool = False
    finished: float | None = None


@dataclass
class PublicRecord:
    email: str
    outcome: str = "posting"  # filed | refused:<status> | no_answer


@dataclass
class State:
    tokens: list[str]
    photos: list[tuple[str, bytes]]
    poll: float
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    draining: bool = False
    settle_deadline: float = float("inf")
    searches: dict[int, SearchRecord] = field(default_factory=dict)
    search_refused: Counter[int] = field(default_factory=Counter)
    public: list[PublicRecord] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)


def _photos(limit_bytes: int = 8_000_000) -> list[tuple[str, bytes]]:
    folder = FACES_DIR / "images"
    photos = [
        (p.name, p.read_bytes())
        for p in sorted(folder.iterdir())
        if p.is_file() and p.stat().st_size < limit_bytes
    ]
    if not photos:
        raise SystemExit(f"No photos in {folder}.")
    return photos


def _percentile(values: list[float], pct: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


def _server_up(host: str) -> None:
    """Stop early, with the command to run, when nothing answers at ``host``."""
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(f"{host}/healthz", timeout=10).close()  # noqa: S310 - the URL the user gave
    except urllib.error.HTTPError:
        pass  # it answers (503 when a check fails): the run shows the rest
    except OSError as exc:
        raise SystemExit(
            f"No server answers at {host} ({exc}). Start it first:\n"
            "  SEARCH_RATE_LIMIT_PER_MINUTE=100000 SUBJECT_REQUESTS_PER_IP_PER_HOUR=100000 RUN_PORT=8150 make run"
        ) from exc


def _one_connection_per_request(session: Any) -> None:
    """Ask for ``Connection: close`` and never reuse a connection.

    The server closes after answering such a request, but without saying so in the response, so
    the client's pool would otherwise hand the closed socket to the next request.
    """
    session.headers["Connection"] = "close"
    # Hooks run before the body is read: the pools are dropped, and the connection in use is
    # discarded, not pooled, once its body has been read.
    session.hooks["response"].append(lambda resp, *args, **kwargs: session.close())


def _why(resp: Any) -> str:
    """A failed answer in one line: the status and the start of the body, or the connection error."""
    if not resp.status_code:
        return f"no answer: {resp.error!r}"[:300]
    return f"{resp.status_code}: {' '.join(resp.text[:300].split())}"


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _row(name: str, entry: Any, seconds: float) -> dict[str, Any]:
    return {
        "endpoint": name,
        "requests": entry.num_requests,
        "failures": entry.num_failures,
        "rps": round(entry.num_requests / seconds, 2) if seconds else 0.0,
        "p50_ms": entry.get_response_time_percentile(0.5) if entry.num_requests else 0,
        "p95_ms": entry.get_response_time_percentile(0.95) if entry.num_requests else 0,
        "max_ms": round(entry.max_response_time or 0),
    }


def _write_json(data: Any) -> str:
    fd, path = tempfile.mkstemp(prefix="load-emails-", suffix=".json")
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
    return path
