"""Face search benchmark: pgvector HNSW in the product's shape against exact answers and FAISS.

Data (``--dataset``): ``realistic`` samples identities x photos from a Gaussian fit to real Dlib
embeddings of ../shared/faces-lfw and ../shared/faces (bench/search_data.py; only the fitted
parameters are stored, in bench/data/); ``isotropic`` is the older stress case (uniform identity
centres on the sphere, 10 photos each, per-coordinate noise 0.025).

The rows go into a throwaway database (``bench_search``) on the configured server, in a table
with the columns the product's selector reads (``search_face``: model, status, expires_at,
jurisdiction, an untyped ``embedding``) and the product's index: a partial HNSW index over
``embedding::vector(128)`` for ``model = 'Dlib'``. About 13 % of rows are filtered out by the
search filters (restricted or suppressed, expired, excluded jurisdiction); recall@10 is against
the exact filtered top 10 (numpy). Layouts: ``single`` (one table) and ``hash4`` (the table
partitioned by model, then by hash of id into 4 partitions, each with its own HNSW index).
Storage: ``vector`` (float4) and ``halfvec`` (an index on ``embedding::halfvec(128)``).
FAISS IndexHNSWFlat with the same m / ef_construction runs on the same vectors in the same
process; ``faiss_ratio`` is pgvector's p95 over the p95 of the fastest FAISS setting whose
recall is at least as high (null when none is). ``selector`` rows time the product's own
``search.selectors.face_match_list`` (Django, the database part of a search after embedding).

    .venv/bin/python bench/search.py --n 20000 --json           # quick
    .venv/bin/python bench/search.py --n 100000 --grid --json   # m / ef_construction grid
    .venv/bin/python bench/search.py --json                     # 1M, realistic + isotropic

With ``--json`` each configuration prints one JSON line (n, dataset, layout, storage, engine,
m, ef_construction, ef_search, filtered, recall_at_10, p50_ms, p95_ms, build_s, index_mb,
faiss_ratio, loadavg); otherwise a table. Run it with the server tuned (config/devservices.py:
shared_buffers must hold the index).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from pgvector.psycopg import register_vector
from psycopg import sql

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
sys.path.insert(0, str(BASE_DIR / "bench"))

from search_common import (  # noqa: E402
    DB_NAME,
    DEFAULT_EFC,
    DEFAULT_M,
    DIM,
    EF_VALUES,
    EXCLUDED_JURISDICTIONS,
    FILTER_SQL,
    GRID,
    MODEL,
    PARTITIONS,
    Data,
    K,
    Row,
    current_load,
    exact_top_k,
    make_data,
    measure,
)

# --- database -----------------------------------------------------------------


def server_params() -> dict[str, str]:
    from config import devservices

    return devservices.ensure_postgres()


def connect(params: dict[str, str], dbname: str) -> psycopg.Connection:
    return psycopg.connect(
        host=params["HOST"],
        port=params["PORT"],
        user=params["USER"],
        dbname=dbname,
        autocommit=True,
    )


def recreate_database(params: dict[str, str]) -> None:
    with connect(params, "postgres") as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DB_NAME))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB_NAME)))


def drop_database(params: dict[str, str]) -> None:
    with connect(params, "postgres") as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DB_NAME))
        )


COLUMNS = (
    "id bigint NOT NULL, model varchar(40) NOT NULL, status varchar(20) NOT NULL, "
    "jurisdiction varchar(10) NOT NULL, expires_at timestamptz, embedding vector NOT NULL"
)


def create_table(conn: psycopg.Connection, layout: str) -> None:
    conn.execute("DROP TABLE IF EXISTS search_face CASCADE")
    if layout == "single":
        conn.execute(f"CREATE TABLE search_face ({COLUMNS}, PRIMARY KEY (id))")
        return
    # By model first (each model its own dimension and index), then by hash of id.
    conn.execute(
        f"CREATE TABLE search_face ({COLUMNS}, PRIMARY KEY (model, id)) PARTITION BY LIST (model)"
    )
    conn.execute(
        f"CREATE TABLE search_face_dlib PARTITION OF search_face FOR VALUES IN ('{MODEL}') PARTITION BY HASH (id)"
    )
    for i in range(PARTITIONS):
        conn.execute(
            f"CREATE TABLE search_face_dlib_{i} PARTITION OF search_face_dlib "
            f"FOR VALUES WITH (MODULUS {PARTITIONS}, REMAINDER {i})"
        )


def load(conn: psycopg.Connection, data: Data) -> float:
    register_vector(conn)
    t0 = time.perf_counter()
    copy_sql = "COPY search_face (id, model, status, jurisdiction, expires_at, embedding) FROM STDIN (FORMAT BINARY)"
    with conn.cursor() as cur, cur.copy(copy_sql) as copy:
        copy.set_types(["int8", "text", "text", "text", "timestamptz", "vector"])
        for i in range(len(data.vectors)):
            copy.write_row(
                (
                    i + 1,
                    MODEL,
                    data.status[i],
                    data.jurisdiction[i],
                    data.expires[i],
                    data.vectors[i],
                )
            )
    conn.execute("VACUUM ANALYZE search_face")
    return time.perf_counter() - t0


def expression(storage: str) -> str:
    return f"(embedding::{storage}({DIM}))"


def build_index(
    conn: psycopg.Connection, layout: str, storage: str, m: int, efc: int
) -> tuple[float, float]:
    """Build the product-shaped partial HNSW index; seconds and size in MB (all partitions)."""
    ops = "halfvec_cosine_ops" if storage == "halfvec" else "vector_cosine_ops"
    for row in conn.execute(
        "SELECT indexrelid::regclass::text FROM pg_index i JOIN pg_am a ON a.oid = "
        "(SELECT relam FROM pg_class WHERE oid = i.indexrelid) WHERE a.amname = 'hnsw'"
    ).fetchall():
        conn.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(row[0])))
    tables = (
        ["search_face"]
        if layout == "single"
        else [f"search_face_dlib_{i}" for i in range(PARTITIONS)]
    )
    t0 = time.perf_counter()
    for table in tables:
        conn.execute(
            f"CREATE INDEX {table}_hnsw ON {table} USING hnsw ({expression(storage)} {ops}) "
            f"WITH (m = {m}, ef_construction = {efc}) WHERE model = '{MODEL}'"
        )
    build_s = time.perf_counter() - t0
    size = sum(
        conn.execute("SELECT pg_relation_size(%s::regclass)", [f"{t}_hnsw"]).fetchone()[0]  # type: ignore[index]
        for t in tables
    )
    # Warm the index into shared_buffers, as a serving database has it.
    conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
    for t in tables:
        conn.execute("SELECT pg_prewarm(%s)", [f"{t}_hnsw"])
    return build_s, size / 2**20


def query_sql(storage: str, filtered: bool) -> str:
    where = FILTER_SQL if filtered else f"model = '{MODEL}'"
    cast = f"%(q)s::{storage}({DIM})"
    return f"SELECT id FROM search_face WHERE {where} ORDER BY {expression(storage)} <=> {cast} LIMIT {K}"


def pg_search(
    conn: psycopg.Connection, storage: str, filtered: bool, now: datetime
) -> Callable[[np.ndarray], list[int]]:
    cur = conn.cursor()
    query = query_sql(storage, filtered)

    def search(q: np.ndarray) -> list[int]:
        cur.execute(query, {"q": q, "now": now, "excluded": EXCLUDED_JURISDICTIONS})
        return [row[0] - 1 for row in cur.fetchall()]

    return search


def plan_uses_index(conn: psycopg.Connection, storage: str, q: np.ndarray, now: datetime) -> bool:
    rows = conn.execute(
        "EXPLAIN " + query_sql(storage, True),
        {"q": q, "now": now, "excluded": EXCLUDED_JURISDICTIONS},
    ).fetchall()
    return "_hnsw" in "\n".join(r[0] for r in rows)


# --- the product's selector -----------------------------------------------------


def selector_rows(
    params: dict[str, str], data: Data, truth: list[set[int]], base: dict[str, Any]
) -> Iterator[Row]:
    """Time search.selectors.face_match_list (Django) against the bench database."""
    from config.devservices import database_url

    os.environ["DATABASE_URL"] = database_url({**params, "NAME": DB_NAME})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["EXCLUDED_JURISDICTIONS"] = ",".join(EXCLUDED_JURISDICTIONS)
    import django

    from config.devservices import ensure_environment

    ensure_environment()  # settings start nothing: like manage.py, the bench starts the servers
    django.setup()
    from django.conf import settings
    from django.db import connection

    from search.selectors import face_match_list

    for ef in EF_VALUES:
        settings.SEARCH_EF_SEARCH = ef

        def search(q: np.ndarray) -> list[int]:
            return [
                m.face_id - 1 for m in face_match_list(embedding=q.tolist(), model=MODEL, limit=K)
            ]

        recall, p50, p95, fewest = measure(data.queries, truth, search)
        yield Row(
            **base,
            engine="selector",
            ef_search=ef,
            filtered=True,
            recall_at_10=recall,
            p50_ms=p50,
            p95_ms=p95,
            min_results=fewest,
            loadavg=current_load(),
        )
    connection.close()


# --- FAISS ----------------------------------------------------------------------


def faiss_rows(
    data: Data, truth: list[set[int]], m: int, efc: int, base: dict[str, Any]
) -> list[Row]:
    import faiss

    index = faiss.IndexHNSWFlat(DIM, m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = efc
    faiss.omp_set_num_threads(2)
    t0 = time.perf_counter()
    index.add(data.vectors)
    build_s = time.perf_counter() - t0
    faiss.omp_set_num_threads(1)  # one thread per query, like one PostgreSQL backend
    bitmap = np.packbits(data.allowed, bitorder="little")  # must outlive the searches
    selector = faiss.IDSelectorBitmap(len(data.allowed), faiss.swig_ptr(bitmap))
    rows = []
    for ef in (*EF_VALUES, 800):
        params = faiss.SearchParametersHNSW(efSearch=ef, sel=selector)

        def search(q: np.ndarray, p: Any = params) -> list[int]:
            _, ids = index.search(q[None, :], K, params=p)
            return [int(i) for i in ids[0] if i >= 0]

        recall, p50, p95, fewest = measure(data.queries, truth, search)
        rows.append(
            Row(
                **{**base, "layout": "single", "storage": "float32"},
                engine="faiss",
                uses_index=True,
                m=m,
                ef_construction=efc,
                ef_search=ef,
                filtered=True,
                recall_at_10=recall,
                p50_ms=p50,
                p95_ms=p95,
                build_s=build_s,
                index_mb=None,
                min_results=fewest,
                loadavg=current_load(),
            )
        )
    return rows


def faiss_ratio(row: Row, faiss: list[Row]) -> float | None:
    peers = [f for f in faiss if f.recall_at_10 >= row.recall_at_10 - 1e-9]
    if not peers:
        return None
    return round(row.p95_ms / min(f.p95_ms for f in peers), 2)


# --- main -----------------------------------------------------------------------


def run_dataset(
    args: argparse.Namespace, params: dict[str, str], dataset: str, emit: Callable[[Row], None]
) -> None:
    data = make_data(dataset, args.n, args.queries, args.seed)
    truth_all = exact_top_k(data.vectors, data.queries)
    truth = exact_top_k(data.vectors, data.queries, data.allowed)
    base = {"n": args.n, "dataset": dataset}
    configs: list[tuple[str, str, int, int]] = []
    grid = GRID if args.grid else ((args.m, args.ef_construction),)
    configs += [("single", "vector", m, efc) for m, efc in grid]
    if args.halfvec:
        configs.append(("single", "halfvec", args.m, args.ef_construction))
    if args.partitions:
        configs.append(("hash4", "vector", args.m, args.ef_construction))
    # FAISS first, so that each pgvector row can be printed with its ratio as soon as it is measured.
    faiss = faiss_rows(data, truth, args.m, args.ef_construction, base) if args.faiss else []
    for row in faiss:
        emit(row)

    def done(row: Row) -> None:
        if row.filtered:
            row.faiss_ratio = faiss_ratio(row, faiss)
        emit(row)

    recreate_database(params)
    try:
        with connect(params, DB_NAME) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            register_vector(conn)
            loaded = ""
            for layout, storage, m, efc in configs:
                if loaded != layout:
                    create_table(conn, layout)
                    load_s = load(conn, data)
                    loaded = layout
                    if not args.json:
                        print(
                            f"{dataset} {layout}: COPY + VACUUM ANALYZE {load_s:.1f} s, load {current_load()}"
                        )
                build_s, index_mb = build_index(conn, layout, storage, m, efc)
                # At small n the planner may rightly prefer a scan of small partitions: recorded.
                uses_index = plan_uses_index(conn, storage, data.queries[0], data.now)
                common = {
                    "uses_index": uses_index,
                    **base,
                    "layout": layout,
                    "storage": storage,
                    "m": m,
                    "ef_construction": efc,
                    "build_s": round(build_s, 1),
                    "index_mb": round(index_mb, 1),
                }
                conn.execute("SET hnsw.iterative_scan = strict_order")  # as the product's selector
                for filtered in (True, False):
                    for ef in EF_VALUES:
                        conn.execute(sql.SQL("SET hnsw.ef_search = {}").format(sql.Literal(ef)))
                        search = pg_search(conn, storage, filtered, data.now)
                        recall, p50, p95, fewest = measure(
                            data.queries, truth if filtered else truth_all, search
                        )
                        row = Row(
                            **common,
                            engine="pgvector",
                            ef_search=ef,
                            filtered=filtered,
                            recall_at_10=recall,
                            p50_ms=p50,
                            p95_ms=p95,
                            min_results=fewest,
                            loadavg=current_load(),
                        )
                        done(row)
                if (
                    layout == "single"
                    and storage == "vector"
                    and (m, efc) == (args.m, args.ef_construction)
                    and args.selector
                ):
                    sel_base = {**common}
                    sel_base.pop("build_s"), sel_base.pop("index_mb")
                    for row in selector_rows(
                        params, data, truth, {**sel_base, "build_s": None, "index_mb": None}
                    ):
                        done(row)
    finally:
        if not args.keep:
            drop_database(params)


def main() -> None:
    global DB_NAME  # one run, one database
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--n", type=int, default=1_000_000, help="faces to load (default 1,000,000)"
    )
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--dataset", choices=["realistic", "isotropic", "both"], default="both")
    parser.add_argument("--m", type=int, default=DEFAULT_M)
    parser.add_argument("--ef-construction", type=int, default=DEFAULT_EFC)
    parser.add_argument(
        "--grid", action="store_true", help=f"build every (m, ef_construction) in {GRID}"
    )
    parser.add_argument(
        "--no-halfvec", dest="halfvec", action="store_false", help="skip the halfvec index"
    )
    parser.add_argument(
        "--no-partitions",
        dest="partitions",
        action="store_false",
        help="skip the 4-partition layout",
    )
    parser.add_argument("--no-faiss", dest="faiss", action="store_false")
    parser.add_argument(
        "--no-selector",
        dest="selector",
        action="store_false",
        help="skip the product selector's rows",
    )
    parser.add_argument("--json", action="store_true", help="one JSON line per configuration")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--database", default="bench_search", help="throwaway database to (re)create"
    )
    args = parser.parse_args()
    DB_NAME = args.database
    if args.n < 100:
        parser.error("--n must be at least 100")

    def emit(row: Row) -> None:
        if args.json:
            print(json.dumps(asdict(row)), flush=True)
        else:
            ratio = f"{row.faiss_ratio:.2f}" if row.faiss_ratio is not None else "-"
            print(
                f"{row.dataset:<9} {row.layout:<6} {row.storage:<7} {row.engine:<8} m={row.m:<2} "
                f"efc={row.ef_construction:<3} ef={row.ef_search:<3} filtered={row.filtered!s:<5} "
                f"recall={row.recall_at_10:.4f} p50={row.p50_ms:6.2f} p95={row.p95_ms:6.2f} "
                f"build={row.build_s} index_mb={row.index_mb} faiss_ratio={ratio} min={row.min_results} "
                f"load={row.loadavg}",
                flush=True,
            )

    params = server_params()
    for dataset in ("realistic", "isotropic") if args.dataset == "both" else (args.dataset,):
        run_dataset(args, params, dataset, emit)


if __name__ == "__main__":
    main()
