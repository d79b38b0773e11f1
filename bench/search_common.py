"""Shared parts of bench/search.py: the settings of the run, the data sets, exact ground truth
and the recall/latency measurement."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import search_data

DB_NAME = "bench_search"
DIM = 128
K = 10
MODEL = "Dlib"
EF_VALUES = (40, 100, 200, 400)
GRID = ((16, 64), (16, 128), (24, 128), (32, 200))
DEFAULT_M, DEFAULT_EFC = 16, 64
PARTITIONS = 4
# Isotropic stress set: per-coordinate noise puts two photos of one identity at cosine ~0.075.
ISOTROPIC_PHOTOS = 10
ISOTROPIC_SIGMA = 0.025
# Filtered-out shares, as the product's filters see them.
RESTRICTED, SUPPRESSED, EXPIRED, EXCLUDED = 0.05, 0.01, 0.03, 0.05
EXCLUDED_JURISDICTIONS = ["GB"]

FILTER_SQL = (
    f"model = '{MODEL}' AND status = 'active' AND (expires_at IS NULL OR expires_at > %(now)s) "
    "AND NOT (jurisdiction = ANY(%(excluded)s::text[]))"
)


@dataclass
class Row:
    n: int
    dataset: str
    layout: str
    storage: str
    engine: str
    m: int
    ef_construction: int
    ef_search: int
    filtered: bool
    recall_at_10: float
    p50_ms: float
    p95_ms: float
    build_s: float | None
    index_mb: float | None
    faiss_ratio: float | None = None
    min_results: int = K
    uses_index: bool | None = None
    loadavg: list[float] = field(default_factory=list)


def current_load() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


# --- data ---------------------------------------------------------------------


@dataclass
class Data:
    vectors: np.ndarray
    queries: np.ndarray
    status: np.ndarray  # 'active' / 'restricted' / 'suppressed'
    expires: list[datetime | None]
    jurisdiction: np.ndarray
    allowed: np.ndarray
    now: datetime


def isotropic(n: int, n_queries: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n_ids = max(1, -(-n // ISOTROPIC_PHOTOS))
    centres = search_data.normalise(rng.standard_normal((n_ids, DIM)))
    identity = np.arange(n) // ISOTROPIC_PHOTOS
    vectors = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, 100_000):
        stop = min(n, start + 100_000)
        noise = rng.standard_normal((stop - start, DIM)) * ISOTROPIC_SIGMA
        vectors[start:stop] = search_data.normalise(centres[identity[start:stop]] + noise)
    ids = rng.choice(n_ids, size=n_queries, replace=n_queries > n_ids)
    queries = search_data.normalise(
        centres[ids] + rng.standard_normal((n_queries, DIM)) * ISOTROPIC_SIGMA
    )
    return vectors, queries


def make_data(dataset: str, n: int, n_queries: int, seed: int) -> Data:
    rng = np.random.default_rng(seed)
    if dataset == "realistic":
        vectors, queries = search_data.sample_realistic(n, n_queries, rng)
    else:
        vectors, queries = isotropic(n, n_queries, rng)
    u = rng.random(n)
    status = np.where(
        u < RESTRICTED, "restricted", np.where(u < RESTRICTED + SUPPRESSED, "suppressed", "active")
    )
    now = datetime.now(UTC)
    days = rng.integers(-30, 700, size=n)  # negative: expired, awaiting the retention sweep
    expired = rng.random(n) < EXPIRED
    no_expiry = rng.random(n) < 0.2
    expires: list[datetime | None] = [
        None if ne else now + timedelta(days=int(-abs(d) - 1 if ex else abs(d) + 1))
        for d, ex, ne in zip(days, expired, no_expiry, strict=True)
    ]
    jurisdiction = np.where(
        rng.random(n) < EXCLUDED, "GB", np.where(rng.random(n) < 0.5, "FR", "US-IL")
    )
    allowed = (status == "active") & ~(expired & ~no_expiry) & (jurisdiction != "GB")
    return Data(vectors, queries, status, expires, jurisdiction, allowed, now)


def exact_top_k(
    vectors: np.ndarray, queries: np.ndarray, allowed: np.ndarray | None = None
) -> list[set[int]]:
    """Row indices of the true k nearest neighbours (cosine == inner product on unit vectors)."""
    result: list[set[int]] = []
    for start in range(0, len(queries), 50):
        scores = queries[start : start + 50] @ vectors.T
        if allowed is not None:
            scores[:, ~allowed] = -np.inf
        top = np.argpartition(-scores, K, axis=1)[:, :K]
        result.extend(set(row.tolist()) for row in top)
    return result


# --- measuring ----------------------------------------------------------------


def measure(
    queries: np.ndarray, truth: list[set[int]], search: Callable[[np.ndarray], list[int]]
) -> tuple[float, float, float, int]:
    """recall@10, p50 ms, p95 ms and the fewest results, after an untimed warm-up pass."""
    for q in queries[: min(len(queries), 50)]:
        search(q)
    latencies, recalls, counts = [], [], []
    for q, expected in zip(queries, truth, strict=True):
        t0 = time.perf_counter()
        found = search(q)
        latencies.append((time.perf_counter() - t0) * 1000)
        recalls.append(len(expected.intersection(found)) / K)
        counts.append(len(found))
    lat = np.asarray(latencies)
    return (
        statistics.fmean(recalls),
        float(np.percentile(lat, 50)),
        float(np.percentile(lat, 95)),
        min(counts),
    )
