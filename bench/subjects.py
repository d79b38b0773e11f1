"""Subject-request benchmark: locate a person from a selfie, build their access package and erase
them, in a store of many images and faces, in a throwaway database.

The store: ``--images`` synthetic source images with ``--faces-per-image`` synthetic faces each
(random unit vectors, loaded with binary COPY, the HNSW index built after the load with
``maintenance_work_mem`` and parallel workers set for this session), plus four real photos of the
person analysed by the product's face pipeline, so that locating from a real selfie is real.

    .venv/bin/python bench/subjects.py [--images 100000] [--faces-per-image 10] [--maintenance-work-mem 2GB] [--json]

``--json`` prints one JSON line with the figures and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _progress(message: str) -> None:
    print(
        f"[{time.strftime('%H:%M:%S')}] {message} (load {_loadavg()})", file=sys.stderr, flush=True
    )


def _load_store(n_images: int, faces_per_image: int, chunk: int = 50_000) -> None:
    """Synthetic images (one INSERT … SELECT) and faces (binary COPY of unit vectors), no HNSW index yet."""
    import numpy as np
    from django.db import connection
    from pgvector.psycopg import register_vector

    rng = np.random.default_rng(1)
    connection.ensure_connection()
    register_vector(connection.connection)
    with connection.cursor() as cursor:
        columns = (
            "file, sha256, perceptual_hash, width, height, format, byte_size, source_label, page_url, image_url, original_name,"
            " jurisdiction, first_seen, last_seen, status, status_changed_at, attempts, error, created_at"
        )
        values = (
            "'synthetic/' || g || '.jpg', md5(g::text) || md5((g+1)::text), '', 100, 100, 'JPEG', 1, 'synthetic',"
            " 'https://example.org/p/' || g, 'https://example.org/i/' || g || '.jpg', '', 'FR', now(), now(), 'done',"
            " now(), 1, '', now()"
        )
        cursor.execute(
            f"INSERT INTO search_sourceimage ({columns}) SELECT {values} FROM generate_series(1, %s) g",
            [n_images],
        )
        cursor.execute("SELECT min(id) FROM search_sourceimage")
        (first_id,) = cursor.fetchone()
    n_faces = n_images * faces_per_image
    raw = connection.connection.cursor()
    with raw.copy(
        "COPY search_face (image_id, box_x, box_y, box_w, box_h, detection_score, crop, embedding, model, detector,"
        " status, jurisdiction, created_at) FROM STDIN WITH (FORMAT BINARY)"
    ) as copy:
        copy.set_types(
            [
                "int8",
                "int4",
                "int4",
                "int4",
                "int4",
                "float8",
                "varchar",
                "vector",
                "varchar",
                "varchar",
                "varchar",
                "varchar",
                "timestamptz",
            ]
        )
        from django.utils import timezone

        now = timezone.now()
        for start in range(0, n_faces, chunk):
            size = min(chunk, n_faces - start)
            vectors = rng.normal(size=(size, 128)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            for k in range(size):
                i = start + k
                copy.write_row(
                    (
                        first_id + i // faces_per_image,
                        0,
                        0,
                        50,
                        50,
                        1.0,
                        "",
                        vectors[k],
                        "Dlib",
                        "dlib",
                        "active",
                        "FR",
                        now,
                    )
                )


def _build_index(maintenance_work_mem: str) -> None:
    """The Dlib HNSW index (as migration 0003 defines it), built once the rows are in."""
    from django.db import connection

    workers = max(1, min(4, (os.cpu_count() or 2)))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE search_face")
        cursor.execute(
            "SELECT set_config('maintenance_work_mem', %s, false)", [maintenance_work_mem]
        )
        cursor.execute(
            "SELECT set_config('max_parallel_maintenance_workers', %s, false)", [str(workers)]
        )
        cursor.execute(
            "CREATE INDEX search_face_hnsw_dlib ON search_face USING hnsw ((embedding::vector(128)) "
            "vector_cosine_ops) WITH (m = 16, ef_construction = 64) WHERE model = 'Dlib'"
        )
        cursor.execute("RESET maintenance_work_mem")
        cursor.execute("RESET max_parallel_maintenance_workers")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--faces-per-image", type=int, default=10)
    parser.add_argument("--faces", default=str(BASE_DIR.parent / "shared" / "faces" / "images"))
    parser.add_argument(
        "--maintenance-work-mem", default="2GB", help="for the HNSW build (this session only)"
    )
    parser.add_argument("--json", action="store_true", help="one JSON line with the figures")
    args = parser.parse_args()

    import django
    from django.conf import settings

    from config.devservices import ensure_environment

    ensure_environment()  # settings start nothing: like manage.py, the bench starts the servers
    django.setup()
    settings.DEBUG = False  # as in production: no query log
    from django.db import connection

    settings.MEDIA_ROOT = tempfile.mkdtemp(prefix="bench-subjects-media-")
    connection.settings_dict["TEST"]["NAME"] = "bench_subjects"
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        from accounts.models import Organisation, User
        from search.models import SearchHit, SearchRequest
        from search.services import source_image_store, source_images_analyse
        from subjects import services
        from subjects.models import Candidate, SubjectRequest

        n_images, n_faces = args.images, args.images * args.faces_per_image
        with connection.cursor() as cursor:
            cursor.execute(
                "DROP INDEX IF EXISTS search_face_hnsw_dlib"
            )  # loaded first, indexed after (faster)
        _progress(f"loading {n_images:,} images, {n_faces:,} faces")
        start = time.perf_counter()
        _load_store(n_images, args.faces_per_image)
        load = time.perf_counter() - start
        _progress(f"loaded in {load:.0f} s; building the HNSW index")
        start = time.perf_counter()
        _build_index(args.maintenance_work_mem)
        build = time.perf_counter() - start
        _progress(f"index built in {build:.0f} s")

        photos_dir = Path(args.faces)
        stored = [
            source_image_store(data=(photos_dir / n).read_bytes(), source_label="press").image
            for n in ("img1.jpg", "img4.jpg", "img5.jpg", "img3.jpg")
        ]
        ids = [image.pk for image in stored if image is not None]
        source_images_analyse(image_ids=ids)
        org = Organisation.objects.create(name="Bench org", slug="bench-org")
        user = User.objects.create_user(email="bench@example.org", password=None)
        search = SearchRequest.objects.create(
            organisation=org,
            user=user,
            purpose="p",
            lawful_basis="public_task",
            case_reference="B-1",
            status="done",
        )
        from search.models import Face

        SearchHit.objects.create(
            search=search,
            face=Face.objects.get(image_id=ids[0]),
            distance=0.02,
            confidence=0.9,
            rank=1,
        )

        selfie = (photos_dir / "img2.jpg").read_bytes()
        start = time.perf_counter()
        request, _ = services.request_submit(
            type="access", email="bench-person@example.net", selfie=selfie
        )
        locate = time.perf_counter() - start
        SubjectRequest.objects.filter(pk=request.pk).update(status="approved")
        Candidate.objects.filter(request=request, borderline=False).update(status="confirmed")
        request.refresh_from_db()
        start = time.perf_counter()
        package, _token = services.access_package_build(request=request)
        package_seconds = time.perf_counter() - start
        confirmed = Candidate.objects.filter(request=request, status="confirmed").count()

        erase = SubjectRequest.objects.create(
            reference="R-BENCHERA",
            type="erasure",
            email="bench-person@example.net",
            due_date=request.due_date,
            original_due_date=request.due_date,
            status_token_hash="-",  # noqa: S106 (not a secret)
            status="approved",
        )
        for c in Candidate.objects.filter(request=request, status="confirmed"):
            Candidate.objects.create(
                request=erase,
                face_id=c.face_ref,
                face_ref=c.face_ref,
                found_by="selfie",
                status="confirmed",
            )
        start = time.perf_counter()
        receipt, _erased = services.erase_confirmed(request=erase)
        erase_seconds = time.perf_counter() - start

        figures = {
            "figure": "subjects",
            "images": n_images,
            "faces": n_faces,
            "real_photos": 4,
            "load_s": round(load, 1),
            "index_build_s": round(build, 1),
            "maintenance_work_mem": args.maintenance_work_mem,
            "locate_s": round(locate, 2),
            "confirmed_candidates": confirmed,
            "package_s": round(package_seconds, 2),
            "package_bytes": package.file.size,
            "erasure_verified_s": round(erase_seconds, 2),
            "verified_clean": receipt.verified_clean,
            "erased": receipt.counts,
            "loadavg": _loadavg(),
        }
        if args.json:
            print(json.dumps(figures))
        else:
            print(f"store: {n_images:,} images, {n_faces:,} faces (synthetic) + 4 real photos")
            print(
                f"load {load:.1f} s, HNSW build {build:.1f} s (maintenance_work_mem {args.maintenance_work_mem})"
            )
            print(
                f"locate from a selfie (detect, embed, HNSW search): {locate:.2f} s, {confirmed} confirmed candidates"
            )
            print(
                f"access package (ZIP with report, JSON, crops): {package_seconds:.2f} s, {package.file.size:,} bytes"
            )
            print(
                f"erasure of the person (rows, files, hits, notices, verification): {erase_seconds:.2f} s; "
                f"clean={receipt.verified_clean}, counts={receipt.counts}"
            )
            print(f"load average: {figures['loadavg']}")
    finally:
        connection.creation.destroy_test_db("bench_subjects", verbosity=0)


if __name__ == "__main__":
    main()
