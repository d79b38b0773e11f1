"""Invariant matrix: ingestion decides before writing; the face work on a web process is bounded; a
tiny face is "too small".

Every row drives the real services (PostgreSQL + pgvector, media storage, the Dlib model on the shared
photos of ../shared/faces) through the path a person uses: the rights portal's forms for the objection,
``import_images``, the crawler against a site on loopback, the search pages and the API. person01 is
img1, img2, img4, img5 (see identities.csv); img3 and img47 are others.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import threading
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import TestCase
from django.urls import reverse
from PIL import Image

from compliance.models import AuditEvent
from search import engine, services
from search.models import SearchRequest, SourceImage
from subjects.models import SubjectRequest
from tests.invariants.ingest_support import (
    FIELDS,
    _empty_media,  # noqa: F401 (an autouse fixture)
    _work_in_process,  # noqa: F401 (an autouse fixture)
    rights_request,
    token_client,
)
from tests.search import photos

pytestmark = pytest.mark.django_db(transaction=True)  # the rights portal's emails go out on commit


ROOT = Path(__file__).resolve().parents[2]


# --- helpers ---------------------------------------------------------------------------------


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def files_named(digest: str) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file() and digest in p.name] if root.exists() else []


def reencoded(name: str, *, quality: int = 70, scale: float = 0.85) -> bytes:
    """The same photo, re-saved as JPEG at another quality and resized: other bytes, same face."""
    image = Image.open(io.BytesIO(photos.photo(name))).convert("RGB")
    image = image.resize(
        (round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS
    )
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def tiny_face_photo(face_side: int = 35) -> bytes:
    """img1's face shrunk to about ``face_side`` px on a plain 640 x 480 background (a distant face)."""
    face = Image.open(io.BytesIO(photos.photo("img1.jpg"))).convert("RGB")
    face.thumbnail((face_side * 2, face_side * 2))
    canvas = Image.new("RGB", (640, 480), (200, 200, 190))
    canvas.paste(face, (300, 200))
    out = io.BytesIO()
    canvas.save(out, format="JPEG", quality=92)
    return out.getvalue()


def local_source(dpo, name: str = "press kit"):
    from crawling import services as crawling

    source = crawling.source_add(
        name=name,
        scope=[],
        jurisdictions=["FR"],
        lawful_basis="legitimate_interests",
        art9_condition="manifestly_public",
        dpia_reference="DPIA-18",
        kind="local",
    )
    return crawling.source_approve(source=source, actor=dpo)


def import_folder(folder: Path, files: dict[str, bytes], source: str = "press kit") -> dict:
    for name, data in files.items():
        (folder / name).write_bytes(data)
    out = StringIO()
    call_command("import_images", str(folder), "--source", source, stdout=out, stderr=StringIO())
    return json.loads(out.getvalue())


def crawl(dpo, images: dict[str, bytes]):
    """Crawl a loopback site whose one page shows ``images`` (path -> bytes); the job when it is done."""
    from crawling import services as crawling
    from crawling.models import CrawlJob
    from tests.crawling.site import serve

    with serve() as site:
        page = "".join(f'<img src="{path}">' for path in images)
        site.routes.clear()
        site.routes["/"] = (
            200,
            {"Content-Type": "text/html; charset=utf-8"},
            f"<html><body>{page}</body></html>".encode(),
        )
        for path, data in images.items():
            site.routes[path] = (200, {"Content-Type": "image/jpeg"}, data)
        source = crawling.source_add(
            name="News site",
            scope=[site.base + "/"],
            jurisdictions=["FR"],
            lawful_basis="legitimate_interests",
            art9_condition="manifestly_public",
            dpia_reference="DPIA-18",
        )
        source = crawling.source_approve(source=source, actor=dpo)
        job = crawling.crawl_job_create(source=source)
        while crawling.crawl_job_run(job_id=job.pk, budget_seconds=30):
            pass
    return CrawlJob.objects.get(pk=job.pk)


# --- suppression (objection): decided before anything is written ------------------------------


def _objection_then_import_new_photo(client, dpo, tmp_path):
    local_source(dpo)
    rights_request(client, dpo, "objection")
    summary = import_folder(
        tmp_path,
        {"new-photo.jpg": photos.photo("img4.jpg"), "someone-else.jpg": photos.photo("img47.jpg")},
    )
    return summary, photos.photo("img4.jpg")


def _objection_then_import_reencoded_copy(client, dpo, tmp_path):
    local_source(dpo)
    rights_request(client, dpo, "objection")
    copy = reencoded("img1.jpg")
    assert sha(copy) != sha(
        photos.photo("img1.jpg")
    )  # other bytes: the content hash cannot catch it
    summary = import_folder(
        tmp_path, {"resaved.jpg": copy, "someone-else.jpg": photos.photo("img47.jpg")}
    )
    return summary, copy


def _objection_then_crawl_new_photo(client, dpo, tmp_path):
    rights_request(client, dpo, "objection")
    job = crawl(
        dpo, {"/img/new.jpg": photos.photo("img5.jpg"), "/img/other.jpg": photos.photo("img47.jpg")}
    )
    return {"stored": job.stored, "skipped": job.skipped}, photos.photo("img5.jpg")


def _objection_then_crawl_resized_copy(client, dpo, tmp_path):
    rights_request(client, dpo, "objection")
    copy = reencoded("img1.jpg", quality=80, scale=0.7)
    job = crawl(dpo, {"/img/copy.jpg": copy, "/img/other.jpg": photos.photo("img47.jpg")})
    return {"stored": job.stored, "skipped": job.skipped}, copy


def _stored_before_objection_then_analysed(client, dpo, tmp_path):
    """The worker's path: img5 and img47 were stored (waiting for the face model) before the objection."""
    data = photos.photo("img5.jpg")
    waiting = [
        services.source_image_store(
            data=d, source_label="news", image_url=f"https://news.example/{n}"
        ).image
        for n, d in (("p.jpg", data), ("q.jpg", photos.photo("img47.jpg")))
    ]
    assert all(waiting) and files_named(sha(data))
    rights_request(client, dpo, "objection")
    counts = services.source_images_analyse(image_ids=[i.pk for i in waiting if i is not None])
    skipped = {
        "suppressed": counts.suppressed_images,
        "no_face": counts.no_face,
        "face_too_small": counts.too_small,
    }
    return {
        "stored": SourceImage.objects.count(),
        "skipped": {k: v for k, v in skipped.items() if v},
    }, data


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(
            _objection_then_import_new_photo,
            id="suppression × import_images (new photo img4 of the objector)",
        ),
        pytest.param(
            _objection_then_import_reencoded_copy,
            id="suppression × import_images (erased img1 re-saved q70, 85 %)",
        ),
        pytest.param(
            _objection_then_crawl_new_photo,
            id="suppression × crawler (new photo img5 at a new URL)",
        ),
        pytest.param(
            _objection_then_crawl_resized_copy,
            id="suppression × crawler (erased img1 re-saved q80, 70 %)",
        ),
        pytest.param(
            _stored_before_objection_then_analysed,
            id="suppression × worker (img5 stored before the objection)",
        ),
    ],
)
def test_an_objectors_photo_is_refused_before_anything_is_written(client, dpo, tmp_path, path):
    """person01 objects (selfie img2, template kept with consent); then a photo of them that the URL and
    content-hash lists cannot catch arrives with someone else's (img47). Theirs: no row, no file, counted
    "suppressed", never "no face"/stored; the other person's photo is stored as before."""
    counts, data = path(client, dpo, tmp_path)
    assert not SourceImage.objects.filter(sha256=sha(data)).exists()
    assert files_named(sha(data)) == []
    assert counts["skipped"].get("suppressed") == 1, counts
    assert "no_face" not in counts["skipped"] and "face_too_small" not in counts["skipped"], counts
    assert counts["stored"] == 1  # img47 only
    assert SourceImage.objects.filter(
        sha256=sha(photos.photo("img47.jpg")), status=SourceImage.Status.DONE
    ).exists()
    assert not SourceImage.objects.filter(status=SourceImage.Status.NO_FACE).exists()
    assert not AuditEvent.objects.filter(
        details__icontains=sha(data)
    ).exists()  # not even its hash in the log


# --- a tiny face is "too small", on every path ----------------------------------------------------


def _too_small_in_search(client, dpo, teammate, tmp_path):
    search = services.search_create(user=teammate, image_data=tiny_face_photo(), **FIELDS)
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.search_process_probe(search_id=search.pk)
    search.refresh_from_db()
    assert search.status == SearchRequest.Status.FAILED
    return search.error


def _too_small_on_the_rights_portal(client, dpo, teammate, tmp_path):
    payload = {
        "email": "person@example.net",
        "selfie": SimpleUploadedFile("me.jpg", tiny_face_photo(), "image/jpeg"),
    }
    response = client.post(reverse("subjects:request", args=["access"]), payload)
    assert response.status_code == 400
    assert not SubjectRequest.objects.exists()  # refused before anything is filed
    return response.content.decode()


def _too_small_in_the_import_counts(client, dpo, teammate, tmp_path):
    local_source(dpo)
    summary = import_folder(tmp_path, {"distant.jpg": tiny_face_photo()})
    return " ".join(f"{k.replace('_', ' ')}: {v}" for k, v in summary["skipped"].items())


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(_too_small_in_search, id="too small × search probe"),
        pytest.param(_too_small_on_the_rights_portal, id="too small × rights portal selfie"),
        pytest.param(_too_small_in_the_import_counts, id="too small × import_images counts"),
    ],
)
def test_a_tiny_face_is_too_small_not_no_face(client, dpo, teammate, tmp_path, path):
    """Input: a 640 x 480 photo whose only face (img1 shrunk onto a plain background) is about 26 px, under
    FACE_MIN_SIZE_PX (40) and under what the detector finds. What the person reads must be the documented
    "too small", never "no face found"."""
    said = path(client, dpo, teammate, tmp_path)
    assert "too small" in said, said
    assert (
        "no face found" not in said.lower()
        and "found no face" not in said
        and "no face:" not in said
    ), said


# --- decoding is bounded on the web process -------------------------------------------------------

_MEASURE = """
import os, sys, django
sys.path.insert(0, {root!r})
os.environ["DJANGO_SETTINGS_MODULE"] = "config.test_settings"
django.setup()
import numpy
from search import engine
data = open({path!r}, "rb").read()
def status(key):
    return int([line for line in open("/proc/self/status") if line.startswith(key + ":")][0].split()[1])
open("/proc/self/clear_refs", "w").write("5")  # the peak (VmHWM) starts again from the current size
before = status("VmRSS")
decoded = engine.decode_image(data)
print((status("VmHWM") - before) // 1024, decoded.width, decoded.height, max(decoded.pixels.shape[:2]))
"""


def _solid_png() -> bytes:
    sys.path.insert(0, str(ROOT))
    from bench.decode import solid_png

    return solid_png()


def _encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def _large_jpeg() -> bytes:
    return _encoded(Image.new("RGB", (6000, 4000), (120, 90, 80)), "JPEG", quality=90)


def _palette_png() -> bytes:
    return _encoded(Image.new("P", (6000, 6000), 1), "PNG", optimize=True)


@pytest.mark.parametrize(
    ("build", "side", "limit_mb"),
    [
        pytest.param(
            _solid_png,
            3883,
            120,
            id="bounded decode × 51 KB solid-colour PNG of 15 MP (the selfie of the report)",
        ),
        pytest.param(
            _large_jpeg, 6000, 100, id="bounded decode × solid-colour JPEG of 6000 x 4000 (24 MP)"
        ),
        pytest.param(
            _palette_png,
            6000,
            60,
            id="bounded decode × 2-colour palette PNG of 6000 x 6000 (36 MP)",
        ),
    ],
)
def test_a_small_file_with_many_pixels_is_decoded_within_bounds(tmp_path, build, side, limit_mb):
    """Each input is under the 40-megapixel limit, so it is accepted; it is decoded in a fresh process
    (peak resident memory measured from just before the call) to a working copy under 3,200 px long
    while its size is reported as the original's. The full decode (Image.open, load, RGB copy) took 260, 410, 410 MB."""
    path = tmp_path / "photo"
    path.write_bytes(build())
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE.format(root=str(ROOT), path=str(path))],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    peak_mb, width, _height, working = (int(v) for v in out.stdout.split()[-4:])
    assert width == side
    assert (
        settings.FACE_DETECT_MAX_SIDE <= working < 4 * settings.FACE_DETECT_MAX_SIDE
    )  # under 3,200 px
    assert peak_mb < limit_mb, f"peak {peak_mb} MB"


class _SlotHolder:
    """Another request holding every face slot of this process (a thread, as under a threaded server)."""

    def __enter__(self) -> _SlotHolder:
        self.taken, self.release = threading.Event(), threading.Event()

        def hold() -> None:
            with engine.work_slot():
                self.taken.set()
                self.release.wait(30)

        self.thread = threading.Thread(target=hold)
        self.thread.start()
        assert self.taken.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.thread.join()


def _busy_api_search(client, teammate):
    response = token_client(teammate).post(
        reverse("api-search-create"),
        {"image": SimpleUploadedFile("p.jpg", photos.photo("img2.jpg"), "image/jpeg"), **FIELDS},
        format="multipart",
    )
    assert response.status_code == 503 and response.json()["error"]["code"] == "busy", (
        response.content
    )
    assert response["Retry-After"]
    assert not SearchRequest.objects.exists()


def _busy_rights_portal_selfie(client, teammate):
    payload = {
        "email": "person@example.net",
        "selfie": SimpleUploadedFile("me.jpg", photos.photo("img2.jpg"), "image/jpeg"),
    }
    response = client.post(
        reverse("subjects:request", args=["access"]), payload, HTTP_ACCEPT_LANGUAGE="fr"
    )
    assert (
        "renvoyer le formulaire dans une minute" in response.content.decode()
    )  # in the visitor's language
    assert not SubjectRequest.objects.exists()


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(
            _busy_api_search, id="bounded face work × API search while every slot is taken"
        ),
        pytest.param(
            _busy_rights_portal_selfie,
            id="bounded face work × rights portal selfie while every slot is taken",
        ),
    ],
)
def test_past_the_face_slots_the_answer_is_busy_try_again(client, teammate, settings, path):
    """Input: a good photo (img2) while another request holds the process's only face slot
    (FACE_WORK_CONCURRENCY=1, FACE_WORK_WAIT_SECONDS=0.2). The answer is "busy, try again" at once,
    with nothing stored, instead of one more full decode on the web process."""
    settings.FACE_WORK_CONCURRENCY, settings.FACE_WORK_WAIT_SECONDS = 1, 0.2
    with _SlotHolder():
        path(client, teammate)
