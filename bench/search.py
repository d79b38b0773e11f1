"""Face search benchmark: pgvector HNSW against exact search, FAISS HNSW and a numpy scan.

Synthetic face-like embeddings (identities x noisy samples, 128-d, L2-normalised) are
loaded into a throwaway database on the configured server (``bench_search``); the script
reports HNSW build time, recall@10 and per-query latency for several ``hnsw.ef_search``
values, unfiltered and with 10% of rows filtered out (iterative index scans), then the
same for FAISS and the ratios. It prints figures; it is not a test.

    .venv/bin/pip install faiss-cpu        # bench-only dependency, not in pyproject
    .venv/bin/python bench/search.py [--n 1000000] [--queries 200] [--keep]

``--n 100000`` is a quick smoke run; the default 1M run takes a while on two cores.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psycopg
from pgvector.psycopg import register_vector
from psycopg import sql

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

DB_NAME = "bench_search"
DIM = 128
SAMPLES_PER_IDENTITY = 10
RESTRICTED_SHARE = 0.10
K = 10
EF_VALUES = (40, 64, 100, 200, 400)
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 64
# Per-coordinate noise: two samples of one identity then sit at cosine distance
# about 1 - 1/(1 + DIM * sigma^2) ~= 0.075, inside the 0.05-0.1 seen for real face models.
NOISE_SIGMA = 0.025
# Same-identity samples sit near 0.075 and strangers near 1.0 (at best ~0.55 among 1M), so
# anything closer than this is a genuine match; the rest of a top-10 is near-tie strangers.
MATCH_DISTANCE = 0.3
GOAL_RECALL = 0.98
GOAL_P95_MS = 20.0
BRUTE_FORCE_N = 100_000
EXACT_SQL_QUERIES = 10

Vectors = np.ndarray


@dataclass
class Run:
    """One configuration's measurements over the query set."""

    label: str
    recall: float
    match_recall: float
    p50_ms: float
    p95_ms: float
    min_results: int
    mean_results: float


# --- data ---------------------------------------------------------------------


def normalise(x: Vectors) -> Vectors:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def make_data(n: int, n_queries: int, seed: int) -> tuple[Vectors, np.ndarray, Vectors]:
    """Vectors, the restricted mask, and queries that are fresh samples of existing identities."""
    rng = np.random.default_rng(seed)
    n_ids = max(1, -(-n // SAMPLES_PER_IDENTITY))
    centres = normalise(rng.standard_normal((n_ids, DIM), dtype=np.float32))
    identity = np.arange(n) // SAMPLES_PER_IDENTITY
    vectors = np.empty((n, DIM), dtype=np.float32)
    # Chunked so that the float noise for 1M rows never exists all at once.
    for start in range(0, n, 100_000):
        stop = min(n, start + 100_000)
        noise = rng.standard_normal((stop - start, DIM), dtype=np.float32) * NOISE_SIGMA
        vectors[start:stop] = normalise(centres[identity[start:stop]] + noise)
    restricted = rng.random(n) < RESTRICTED_SHARE
    query_ids = rng.choice(n_ids, size=n_queries, replace=n_queries > n_ids)
    queries = normalise(centres[query_ids] + rng.standard_normal((n_queries, DIM), dtype=np.float32) * NOISE_SIGMA)
    return vectors, restricted, queries


def exact_top_k(vectors: Vectors, queries: Vectors, allowed: np.ndarray | None = None) -> list[set[int]]:
    """Row indices of the true k nearest neighbours (cosine == inner product on unit vectors)."""
    result: list[set[int]] = []
    # Chunks of queries keep the score matrix (queries x n floats) to a few hundred MB.
    for start in range(0, len(queries), 50):
        scores = queries[start : start + 50] @ vectors.T
        if allowed is not None:
            scores[:, ~allowed] = -np.inf
        top = np.argpartition(-scores, K, axis=1)[:, :K]
        result.extend(set(row.tolist()) for row in top)
    return result


def matches_only(vectors: Vectors, queries: Vectors, truth: list[set[int]]) -> list[set[int]]:
    """The true neighbours that are the query's own identity, the ones a face search must not miss."""
    return [{r for r in rows if 1.0 - float(vectors[r] @ q) < MATCH_DISTANCE} for q, rows in zip(queries, truth, strict=True)]


def distance_summary(vectors: Vectors, queries: Vectors, truth: list[set[int]]) -> str:
    """Cosine distances of the 1st and 10th true neighbour, to show the data has the intended shape."""
    first, tenth = [], []
    for q, rows in zip(queries, truth, strict=True):
        d = sorted(1.0 - float(vectors[r] @ q) for r in rows)
        first.append(d[0])
        tenth.append(d[-1])
    return f"nearest {statistics.median(first):.3f}, 10th {statistics.median(tenth):.3f} (medians)"


# --- measuring ----------------------------------------------------------------


def percentile(values: Sequence[float], pct: float) -> float:
    return float(np.percentile(np.asarray(values), pct))


def measure(
    label: str,
    queries: Vectors,
    truth: list[set[int]],
    search: Callable[[Vectors], list[int]],
    warmup: bool = True,
    matches: list[set[int]] | None = None,
) -> Run:
    if warmup:
        # Untimed pass: fault the index into memory so the first timed figures are not cold reads.
        for q in queries:
            search(q)
    latencies: list[float] = []
    recalls: list[float] = []
    match_recalls: list[float] = []
    counts: list[int] = []
    for i, (q, expected) in enumerate(zip(queries, truth, strict=True)):
        t0 = time.perf_counter()
        found = search(q)
        latencies.append((time.perf_counter() - t0) * 1000)
        recalls.append(len(expected.intersection(found)) / K)
        wanted = matches[i] if matches is not None else expected
        if wanted:
            match_recalls.append(len(wanted.intersection(found)) / len(wanted))
        counts.append(len(found))
    return Run(
        label=label,
        recall=statistics.fmean(recalls),
        match_recall=statistics.fmean(match_recalls) if match_recalls else 1.0,
        p50_ms=percentile(latencies, 50),
        p95_ms=percentile(latencies, 95),
        min_results=min(counts),
        mean_results=statistics.fmean(counts),
    )


def print_runs(title: str, runs: list[Run]) -> None:
    print(f"\n{title}")
    # "matches": share of the query's own-identity neighbours found (see MATCH_DISTANCE).
    print(f"  {'config':<22} {'recall@10':>9} {'matches':>8} {'p50 ms':>8} {'p95 ms':>8} {'results min/mean':>17}")
    for r in runs:
        figures = f"{r.recall:>9.4f} {r.match_recall:>8.4f} {r.p50_ms:>8.2f} {r.p95_ms:>8.2f}"
        print(f"  {r.label:<22} {figures} {r.min_results:>11d}/{r.mean_results:.2f}")


def goal_line(name: str, runs: list[Run]) -> str:
    met = [r for r in runs if r.recall >= GOAL_RECALL and r.p95_ms <= GOAL_P95_MS and r.min_results == K]
    if met:
        return f"  {name}: MET at {met[0].label} (recall {met[0].recall:.4f}, p95 {met[0].p95_ms:.2f} ms)"
    best = max(runs, key=lambda r: r.recall)
    return f"  {name}: NOT MET (best recall {best.recall:.4f} at {best.label}, p95 {best.p95_ms:.2f} ms)"


# --- database -----------------------------------------------------------------


def server_params() -> dict[str, str]:
    from config import devservices

    return devservices.ensure_postgres()


def admin_connect(params: dict[str, str]) -> psycopg.Connection:
    return psycopg.connect(host=params["HOST"], port=params["PORT"], user=params["USER"], dbname="postgres", autocommit=True)


def recreate_database(params: dict[str, str]) -> None:
    with admin_connect(params) as conn:
        # A leftover from an earlier --keep run would skew the figures; start from nothing.
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DB_NAME)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB_NAME)))


def drop_database(params: dict[str, str]) -> None:
    with admin_connect(params) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DB_NAME)))


def load(conn: psycopg.Connection, vectors: Vectors, restricted: np.ndarray) -> float:
    """COPY in binary format; timestamps computed in Python because binary COPY takes no expressions."""
    from datetime import UTC, datetime, timedelta

    conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    register_vector(conn)
    conn.execute(
        "CREATE TABLE face (id bigserial PRIMARY KEY, status text NOT NULL, expires_at timestamptz, embedding vector(128))"
    )
    rng = np.random.default_rng(1)
    now = datetime.now(UTC)
    expires = [now + timedelta(days=int(d)) for d in rng.integers(30, 366, size=len(vectors))]
    t0 = time.perf_counter()
    # Explicit ids (row index + 1) so that results map straight back to numpy rows.
    copy_sql = "COPY face (id, status, expires_at, embedding) FROM STDIN (FORMAT BINARY)"
    with conn.cursor() as cur, cur.copy(copy_sql) as copy:
        copy.set_types(["int8", "text", "timestamptz", "vector"])
        for i in range(len(vectors)):
            copy.write_row((i + 1, "restricted" if restricted[i] else "active", expires[i], vectors[i]))
    conn.execute("SELECT setval('face_id_seq', %s)", [len(vectors)])
    conn.execute("VACUUM ANALYZE face")
    return time.perf_counter() - t0


def build_index(conn: psycopg.Connection) -> float:
    # The graph must fit in maintenance_work_mem or the build slows down sharply; one
    # parallel worker plus the leader uses both cores.
    conn.execute("SET maintenance_work_mem = '2GB'")
    conn.execute("SET max_parallel_maintenance_workers = 1")
    t0 = time.perf_counter()
    conn.execute(
        sql.SQL(
            "CREATE INDEX face_embedding_hnsw ON face USING hnsw (embedding vector_cosine_ops) "
            "WITH (m = {}, ef_construction = {})"
        ).format(sql.Literal(HNSW_M), sql.Literal(HNSW_EF_CONSTRUCTION))
    )
    return time.perf_counter() - t0


UNFILTERED_SQL = "SELECT id FROM face ORDER BY embedding <=> %s LIMIT 10"
FILTERED_SQL = "SELECT id FROM face WHERE status = 'active' ORDER BY embedding <=> %s LIMIT 10"


def db_search(conn: psycopg.Connection, query: str, prepare: bool = True) -> Callable[[Vectors], list[int]]:
    cur = conn.cursor(binary=True)

    def search(q: Vectors) -> list[int]:
        # Prepared: the app runs one statement shape over and over, so plan once. Not for
        # runs that change planner settings, because a cached generic plan ignores them.
        cur.execute(query, (q,), prepare=prepare)
        return [row[0] - 1 for row in cur.fetchall()]

    return search


def plan_uses_index(conn: psycopg.Connection, query: str, q: Vectors) -> bool:
    plan = "\n".join(row[0] for row in conn.execute("EXPLAIN " + query, (q,)).fetchall())
    return "face_embedding_hnsw" in plan


def relation_mb(conn: psycopg.Connection, name: str) -> float:
    row = conn.execute("SELECT pg_total_relation_size(%s::regclass)", [name]).fetchone()
    assert row is not None
    return float(row[0]) / 2**20


def pg_runs(
    conn: psycopg.Connection,
    query: str,
    queries: Vectors,
    truth: list[set[int]],
    iterative: str,
    matches: list[set[int]] | None = None,
) -> list[Run]:
    conn.execute(sql.SQL("SET hnsw.iterative_scan = {}").format(sql.Literal(iterative)))
    runs = []
    search = db_search(conn, query)
    for ef in EF_VALUES:
        conn.execute(sql.SQL("SET hnsw.ef_search = {}").format(sql.Literal(ef)))
        runs.append(measure(f"ef_search={ef}", queries, truth, search, warmup=ef == EF_VALUES[0], matches=matches))
    return runs


# --- FAISS and numpy ----------------------------------------------------------


def faiss_runs(
    vectors: Vectors,
    queries: Vectors,
    truth: list[set[int]],
    allowed: np.ndarray,
    filtered_truth: list[set[int]],
    filtered_matches: list[set[int]],
) -> tuple[float, list[Run], list[Run]]:
    import faiss

    index = faiss.IndexHNSWFlat(DIM, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    faiss.omp_set_num_threads(2)
    t0 = time.perf_counter()
    index.add(vectors)
    build_s = time.perf_counter() - t0
    # One thread per query, like one PostgreSQL backend serving one request.
    faiss.omp_set_num_threads(1)
    # The selector holds a raw pointer into this array, so it must outlive the searches.
    bitmap = np.packbits(allowed, bitorder="little")
    selector = faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bitmap))
    plain, filtered = [], []
    for ef in EF_VALUES:
        params = faiss.SearchParametersHNSW(efSearch=ef)
        params_sel = faiss.SearchParametersHNSW(efSearch=ef, sel=selector)

        def search(q: Vectors, p: object = params) -> list[int]:
            _, ids = index.search(q[None, :], K, params=p)
            return [int(i) for i in ids[0] if i >= 0]

        def search_filtered(q: Vectors, p: object = params_sel) -> list[int]:
            _, ids = index.search(q[None, :], K, params=p)
            return [int(i) for i in ids[0] if i >= 0]

        plain.append(measure(f"efSearch={ef}", queries, truth, search, warmup=ef == EF_VALUES[0]))
        filtered.append(
            measure(f"efSearch={ef}", queries, filtered_truth, search_filtered, warmup=False, matches=filtered_matches)
        )
    return build_s, plain, filtered


def numpy_brute_force(vectors: Vectors, queries: Vectors, truth: list[set[int]]) -> Run:
    def search(q: Vectors) -> list[int]:
        scores = vectors @ q
        return np.argpartition(-scores, K)[:K].tolist()

    return measure(f"numpy n={len(vectors):,}", queries, truth, search)


# --- main ---------------------------------------------------------------------


def ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}x" if b > 0 else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000, help="vectors to load (default 1,000,000)")
    parser.add_argument("--queries", type=int, default=200, help="query vectors (default 200)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep", action="store_true", help=f"keep the {DB_NAME} database afterwards")
    args = parser.parse_args()

    print(f"face search benchmark: n={args.n:,} dim={DIM} queries={args.queries} k={K} seed={args.seed}")
    print(f"HNSW m={HNSW_M} ef_construction={HNSW_EF_CONSTRUCTION}; {RESTRICTED_SHARE:.0%} rows restricted")
    print(f"goal: recall@10 >= {GOAL_RECALL} at p95 <= {GOAL_P95_MS:g} ms in the database")

    t0 = time.perf_counter()
    vectors, restricted, queries = make_data(args.n, args.queries, args.seed)
    allowed = ~restricted
    truth = exact_top_k(vectors, queries)
    truth_filtered = exact_top_k(vectors, queries, allowed)
    matches_filtered = matches_only(vectors, queries, truth_filtered)
    print(f"\ndata + exact answers (numpy): {time.perf_counter() - t0:.1f} s")
    print(f"  true neighbour cosine distance: {distance_summary(vectors, queries, truth)}")
    print(f"  filtered:                       {distance_summary(vectors, queries, truth_filtered)}")

    params = server_params()
    recreate_database(params)
    try:
        with psycopg.connect(
            host=params["HOST"], port=params["PORT"], user=params["USER"], dbname=DB_NAME, autocommit=True
        ) as conn:
            notices: list[str] = []
            conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
            load_s = load(conn, vectors, restricted)
            print(f"\nCOPY + VACUUM ANALYZE: {load_s:.1f} s ({args.n / load_s:,.0f} rows/s)")
            build_s = build_index(conn)
            version = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
            print(f"HNSW build (pgvector {version[0] if version else '?'}): {build_s:.1f} s")
            print(f"  table {relation_mb(conn, 'face'):,.0f} MB total, index {relation_mb(conn, 'face_embedding_hnsw'):,.0f} MB")
            for message in notices:
                print(f"  server notice: {message}")
            print(
                f"  plan uses the HNSW index: unfiltered {plan_uses_index(conn, UNFILTERED_SQL, queries[0])}, "
                f"filtered {plan_uses_index(conn, FILTERED_SQL, queries[0])}"
            )

            pg_plain = pg_runs(conn, UNFILTERED_SQL, queries, truth, "off")
            print_runs("pgvector, unfiltered", pg_plain)
            pg_filtered = {
                mode: pg_runs(conn, FILTERED_SQL, queries, truth_filtered, mode, matches_filtered)
                for mode in ("off", "relaxed_order", "strict_order")
            }
            for mode, runs in pg_filtered.items():
                print_runs(f"pgvector, WHERE status = 'active', hnsw.iterative_scan = {mode}", runs)

            # Exact search in the database (no index) is the alternative to an ANN index.
            conn.execute("SET enable_indexscan = off")
            n_exact = min(EXACT_SQL_QUERIES, len(queries))
            assert not plan_uses_index(conn, FILTERED_SQL, queries[0])
            exact_sql = measure(
                "seq scan",
                queries[:n_exact],
                truth_filtered[:n_exact],
                db_search(conn, FILTERED_SQL, prepare=False),
                warmup=False,
            )
            conn.execute("RESET enable_indexscan")
            print_runs(f"PostgreSQL exact (no index, filtered, {n_exact} queries)", [exact_sql])
    finally:
        if args.keep:
            print(f"\nkept database {DB_NAME}")
        else:
            drop_database(params)

    faiss_build_s, faiss_plain, faiss_filtered = faiss_runs(vectors, queries, truth, allowed, truth_filtered, matches_filtered)
    print(f"\nFAISS IndexHNSWFlat build (2 threads): {faiss_build_s:.1f} s")
    print_runs("FAISS, unfiltered (1 thread per query)", faiss_plain)
    print_runs("FAISS, filtered with IDSelectorBitmap", faiss_filtered)

    small = min(BRUTE_FORCE_N, len(vectors))
    brute = [numpy_brute_force(vectors[:small], queries, exact_top_k(vectors[:small], queries))]
    if small < len(vectors):
        brute.append(numpy_brute_force(vectors, queries, truth))
    print_runs("numpy brute force (exact by construction)", brute)

    print("\nratios (p50 latency; pgvector unfiltered, FAISS unfiltered, at the same ef)")
    print(f"  pgvector build / FAISS build: {ratio(build_s, faiss_build_s)}")
    for pg, fa in zip(pg_plain, faiss_plain, strict=True):
        line = f"  {pg.label:<14} pgvector/FAISS {ratio(pg.p50_ms, fa.p50_ms):>7}"
        for b in brute:
            line += f"   {b.label} / pgvector {ratio(b.p50_ms, pg.p50_ms):>7}"
        line += f"   exact SQL / pgvector {ratio(exact_sql.p50_ms, pg.p50_ms):>7}"
        print(line)

    print(f"\ngoal: recall@10 >= {GOAL_RECALL} at p95 <= {GOAL_P95_MS:g} ms with 10 results")
    print(goal_line("pgvector unfiltered", pg_plain))
    for mode, runs in pg_filtered.items():
        print(goal_line(f"pgvector filtered, iterative_scan={mode}", runs))


if __name__ == "__main__":
    main()
