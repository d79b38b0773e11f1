"""Monitoring-guard benchmark: the cost of the checks that run after every search (the repeat hold and
the alert count) against the search itself, with many searches in the window, in a throwaway database.

Synthetic vectors (random unit 128-d, model Dlib); every search's top match is a random face. The
peer measured in the same run is ``face_match_list`` (the search's own nearest-face query), so the
ratio survives a loaded machine better than the times do.

    .venv/bin/python bench/monitoring.py [--faces 100000] [--searches 10000 100000] [--repeat 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--faces", type=int, default=100_000)
    parser.add_argument("--searches", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    import django

    from config.devservices import ensure_environment

    ensure_environment()  # settings start nothing: like manage.py, the bench starts the servers
    django.setup()
    import numpy as np
    from django.db import connection, transaction

    connection.settings_dict["TEST"]["NAME"] = "bench_monitoring"
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        from accounts.models import Membership, Organisation, User
        from search import monitoring, selectors
        from search.models import SearchHit, SearchRequest

        rng = np.random.default_rng(1)
        org = Organisation.objects.create(name="Bench", slug="bench")
        user = User.objects.create_user(email="bench@example.org", password=None)
        Membership.objects.create(user=user, organisation=org)
        with connection.cursor() as cursor:
            cursor.execute(
                "DROP INDEX IF EXISTS search_face_hnsw_dlib"
            )  # loaded first, indexed after (faster)
            cursor.execute(
                "INSERT INTO search_sourceimage (file, sha256, perceptual_hash, width, height, format, byte_size,"
                " source_label, page_url, image_url, original_name, jurisdiction, first_seen, last_seen, status,"
                " status_changed_at, attempts, error, created_at) SELECT 'x.jpg', md5(g::text) || md5((g+1)::text), '',"
                " 1, 1, 'JPEG', 1, 'bench', '', '', '', 'FR', now(), now(), 'done', now(), 0, '', now()"
                " FROM generate_series(1, 1) g"
            )
            vectors = rng.normal(size=(args.faces, 128)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            rows = ["[" + ",".join(f"{v:.6f}" for v in vec) + "]" for vec in vectors]
            for i in range(0, len(rows), 5000):
                cursor.executemany(
                    "INSERT INTO search_face (image_id, box_x, box_y, box_w, box_h, detection_score, crop, embedding,"
                    " model, detector, status, jurisdiction, created_at) SELECT min(id), 0, 0, 1, 1, 1, '', %s::vector,"
                    " 'Dlib', 'dlib', 'active', 'FR', now() FROM search_sourceimage",
                    [(r,) for r in rows[i : i + 5000]],
                )
            cursor.execute(
                "CREATE INDEX search_face_hnsw_dlib ON search_face USING hnsw ((embedding::vector(128)) vector_cosine_ops)"
                " WHERE model = 'Dlib'"
            )
            cursor.execute("SELECT min(id), max(id) FROM search_face")
            low, high = cursor.fetchone()
        made = 0
        probe = vectors[0] + rng.normal(scale=0.01, size=128).astype(np.float32)
        print(f"faces {args.faces}; load {_load()}")
        for target in sorted(args.searches):
            with connection.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO search_searchrequest (organisation_id, user_id, purpose, lawful_basis, case_reference,"
                    " status, status_changed_at, error, probe, model, attempts, created_at, completed_at)"
                    " SELECT %s, %s, 'bench', 'public_task', 'C-' || g, 'done', now(), '', '', 'Dlib', 0,"
                    " now() - (random() * interval '29 days'), now() FROM generate_series(1, %s) g",
                    [org.pk, user.pk, target - made],
                )
                cursor.execute(
                    "INSERT INTO search_searchhit (search_id, face_id, distance, confidence, rank, created_at)"
                    " SELECT s.id, %s + floor(random() * (%s - %s + 1))::bigint, 0.05, 0.5, 1, now()"
                    " FROM search_searchrequest s LEFT JOIN search_searchhit h ON h.search_id = s.id WHERE h.id IS NULL",
                    [low, high, low],
                )
                cursor.execute("ANALYZE")
            made = target
            search = SearchRequest.objects.create(
                organisation=org,
                user=user,
                purpose="bench",
                lawful_basis="public_task",
                case_reference="NEW",
                status=SearchRequest.Status.DONE,
                model="Dlib",
            )
            SearchHit.objects.create(
                search=search, face_id=low, distance=0.01, confidence=0.9, rank=1
            )
            made += 1
            peer, check, hold = [], [], []
            for _ in range(args.repeat):
                t = time.perf_counter()
                selectors.face_match_list(
                    embedding=probe.tolist(), model="Dlib", limit=20, max_distance=0.07
                )
                peer.append(time.perf_counter() - t)
                with transaction.atomic():
                    t = time.perf_counter()
                    monitoring.earlier_searches_of_same_person(search=search)
                    hold.append(time.perf_counter() - t)
                    t = time.perf_counter()
                    monitoring.search_monitoring_check(search=search)
                    check.append(time.perf_counter() - t)
                    transaction.set_rollback(True)
            p, h, c = (statistics.median(x) * 1000 for x in (peer, hold, check))
            print(
                f"searches in window {made}: face_match_list {p:.1f} ms; hold check {h:.1f} ms; alert check {c:.1f} ms;"
                f" (hold+alert)/search {((h + c) / p):.2f}; load {_load()}"
            )
    finally:
        connection.creation.destroy_test_db("bench_monitoring", verbosity=0)


if __name__ == "__main__":
    main()
