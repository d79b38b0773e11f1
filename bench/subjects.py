"""Subject-request benchmark: build an access package and erase one person, in a store of many
images and faces (synthetic vectors plus a few real photos of the person), in a throwaway database.

    .venv/bin/python bench/subjects.py [--images 100000] [--faces-per-image 10]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--faces-per-image", type=int, default=10)
    parser.add_argument("--faces", default=str(BASE_DIR.parent / "shared" / "faces" / "images"))
    args = parser.parse_args()

    import django
    from django.conf import settings

    django.setup()
    import numpy as np
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
        start = time.perf_counter()
        rng = np.random.default_rng(1)
        with connection.cursor() as cursor:
            cursor.execute("DROP INDEX IF EXISTS search_face_hnsw_dlib")  # loaded first, indexed after (faster)
            columns = (
                "file, sha256, perceptual_hash, width, height, format, byte_size, source_label, page_url, image_url,"
                " jurisdiction, first_seen, last_seen, status, status_changed_at, attempts, error, created_at"
            )
            values = (
                "'synthetic/' || g || '.jpg', md5(g::text) || md5((g+1)::text), '', 100, 100, 'JPEG', 1, 'synthetic',"
                " 'https://example.org/p/' || g, 'https://example.org/i/' || g || '.jpg', 'FR', now(), now(), 'done',"
                " now(), 1, '', now()"
            )
            cursor.execute(
                f"INSERT INTO search_sourceimage ({columns}) SELECT {values} FROM generate_series(1, %s) g", [n_images]
            )
            cursor.execute("SELECT min(id) FROM search_sourceimage")
            (first_id,) = cursor.fetchone()
            with cursor.copy(
                "COPY search_face (image_id, box_x, box_y, box_w, box_h, detection_score, crop, embedding, model, detector,"
                " status, jurisdiction, created_at) FROM STDIN"
            ) as copy:
                for i in range(n_faces):
                    vec = rng.normal(size=128)
                    vec /= np.linalg.norm(vec)
                    copy.write_row((first_id + i // args.faces_per_image, 0, 0, 50, 50, 1.0, "",
                                    "[" + ",".join(f"{v:.6f}" for v in vec) + "]", "Dlib", "dlib", "active", "FR",
                                    "2026-01-01T00:00:00Z"))  # fmt: skip
            cursor.execute("CREATE INDEX search_face_hnsw_dlib ON search_face USING hnsw ((embedding::vector(128)) "
                           "vector_cosine_ops) WITH (m = 16, ef_construction = 64) WHERE model = 'Dlib'")  # fmt: skip
        load = time.perf_counter() - start

        photos_dir = Path(args.faces)
        ids = [source_image_store(data=(photos_dir / n).read_bytes(), source_label="press").image.pk
               for n in ("img1.jpg", "img4.jpg", "img5.jpg", "img3.jpg")]  # fmt: skip
        source_images_analyse(image_ids=ids)
        org = Organisation.objects.create(name="Bench org", slug="bench-org")
        user = User.objects.create_user(email="bench@example.org", password=None)
        search = SearchRequest.objects.create(organisation=org, user=user, purpose="p", lawful_basis="public_task",
                                              case_reference="B-1", status="done")  # fmt: skip
        from search.models import Face

        SearchHit.objects.create(search=search, face=Face.objects.get(image_id=ids[0]), distance=0.02, confidence=0.9, rank=1)

        selfie = (photos_dir / "img2.jpg").read_bytes()
        start = time.perf_counter()
        request, _ = services.request_submit(type="access", email="bench-person@example.net", selfie=selfie)
        locate = time.perf_counter() - start
        SubjectRequest.objects.filter(pk=request.pk).update(status="approved")
        Candidate.objects.filter(request=request, borderline=False).update(status="confirmed")
        request.refresh_from_db()
        start = time.perf_counter()
        package, _token = services.access_package_build(request=request)
        package_seconds = time.perf_counter() - start
        confirmed = Candidate.objects.filter(request=request, status="confirmed").count()

        erase = SubjectRequest.objects.create(reference="R-BENCHERA", type="erasure", email="bench-person@example.net",
                                              due_date=request.due_date, original_due_date=request.due_date,
                                              status_token_hash="-", status="approved")  # fmt: skip  # noqa: S106
        for c in Candidate.objects.filter(request=request, status="confirmed"):
            Candidate.objects.create(
                request=erase, face_id=c.face_ref, face_ref=c.face_ref, found_by="selfie", status="confirmed"
            )
        start = time.perf_counter()
        receipt, _erased = services.erase_confirmed(request=erase)
        erase_seconds = time.perf_counter() - start

        print(f"store: {n_images:,} images, {n_faces:,} faces (synthetic) + 4 real photos; load + HNSW build {load:.1f} s")
        print(f"locate from a selfie (detect, embed, HNSW search): {locate * 1000:.0f} ms, {confirmed} confirmed candidates")
        print(f"access package (ZIP with report, JSON, crops): {package_seconds * 1000:.0f} ms, {package.file.size:,} bytes")
        print(f"erasure of the person (rows, files, hits, notices, verification): {erase_seconds * 1000:.0f} ms; "
              f"clean={receipt.verified_clean}, counts={receipt.counts}")  # fmt: skip
    finally:
        connection.creation.destroy_test_db("bench_subjects", verbosity=0)


if __name__ == "__main__":
    main()
