"""bench/search.py runs end to end at a tiny n against the real PostgreSQL and prints its JSON lines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
FIELDS = {
    "n",
    "dataset",
    "m",
    "ef_construction",
    "ef_search",
    "filtered",
    "recall_at_10",
    "p50_ms",
    "p95_ms",
    "build_s",
    "index_mb",
    "faiss_ratio",
}


def run_bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "bench/search.py", *args],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.mark.django_db
def test_tiny_run_prints_one_json_line_per_configuration():
    done = run_bench(
        "--n",
        "3000",
        "--queries",
        "20",
        "--json",
        "--dataset",
        "both",
        "--no-partitions",
        "--database",
        "bench_search_test",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert rows, done.stdout
    for row in rows:
        assert row.keys() >= FIELDS, row
        assert 0.0 <= row["recall_at_10"] <= 1.0
        assert row["p50_ms"] <= row["p95_ms"]
    assert {r["dataset"] for r in rows} == {"realistic", "isotropic"}
    assert {r["engine"] for r in rows} == {"pgvector", "selector", "faiss"}
    assert {r["storage"] for r in rows} >= {"vector", "halfvec"}
    pg = [r for r in rows if r["engine"] == "pgvector" and r["ef_search"] == 100]
    assert all(r["recall_at_10"] > 0.5 and r["build_s"] > 0 and r["index_mb"] > 0 for r in pg), pg
    # The product's own selector, filters on, finds what the same index finds.
    selector = [r for r in rows if r["engine"] == "selector" and r["ef_search"] == 100]
    assert len(selector) == 2 and all(r["recall_at_10"] > 0.5 and r["filtered"] for r in selector)
    assert all(r["faiss_ratio"] is None or r["faiss_ratio"] > 0 for r in rows)


def test_too_small_n_is_refused_with_a_message():
    """Bad input: --n 5 cannot hold a top 10."""
    done = run_bench("--n", "5", "--json")
    assert done.returncode == 2
    assert "--n must be at least 100" in done.stderr


def test_fitted_parameters_are_a_distribution_not_embeddings():
    """bench/data holds means and covariances only, and sampling from them gives unit vectors."""
    sys.path.insert(0, str(BASE_DIR / "bench"))
    import search_data

    with np.load(search_data.PARAMS_PATH) as data:
        assert set(data.files) == {"centre_mean", "centre_cov", "within_cov", "people", "photos"}
        assert data["centre_cov"].shape == data["within_cov"].shape == (128, 128)
    vectors, queries = search_data.sample_realistic(500, 5, np.random.default_rng(0))
    assert vectors.shape == (500, 128) and queries.shape == (5, 128)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    counts = search_data.photo_counts(np.random.default_rng(0), 10_000)
    assert counts.sum() == 10_000 and counts.min() >= 1
    assert 0.6 < np.mean(counts == 1) < 0.8  # most people appear once, as in the full LFW
