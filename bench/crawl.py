"""Crawler benchmark against a local site with politeness off, in a throwaway database.

    .venv/bin/python bench/crawl.py [--pages 200] [--faces ../shared/faces/images]

Prints pages/s and images/s for the crawl itself (fetch, robots, extraction, dedupe, storage),
then the face pipeline over the stored images, and the share of total time the face pipeline takes.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def build_site(pages: int, photos: list[bytes]) -> dict[str, tuple[str, bytes]]:
    """Pages linked in a chain and a fan; each photo appears on one page (plus repeats that dedupe)."""
    site: dict[str, tuple[str, bytes]] = {
        "/robots.txt": ("text/plain", b"User-agent: *\nAllow: /\n")
    }
    for i in range(pages):
        imgs = "".join(f'<img src="/img/{(i * 3 + k) % len(photos)}.jpg">' for k in range(3))
        links = f'<a href="/p/{i + 1}.html">next</a><a href="/p/{(i * 7) % pages}.html">jump</a>'
        site[f"/p/{i}.html"] = (
            "text/html",
            f"<html lang='fr'><body>{imgs}{links}</body></html>".encode(),
        )
    site["/"] = ("text/html", b'<html><body><a href="/p/0.html">start</a></body></html>')
    for i, data in enumerate(photos):
        site[f"/img/{i}.jpg"] = ("image/jpeg", data)
    return site


def serve(site: dict[str, tuple[str, bytes]]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            kind, body = site.get(self.path, ("text/plain", b""))
            self.send_response(200 if self.path in site else 404)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--faces", default=str(BASE_DIR.parent / "shared" / "faces" / "images"))
    args = parser.parse_args()
    os.environ["CRAWL_ALLOW_LOOPBACK"] = "true"
    os.environ["CRAWL_RATE_OVERRIDE"] = "100000"

    import django
    from django.conf import settings

    from config.devservices import ensure_environment

    ensure_environment()  # settings start nothing: like manage.py, the bench starts the servers
    django.setup()
    from django.db import connection

    settings.MEDIA_ROOT = tempfile.mkdtemp(prefix="bench-crawl-media-")
    connection.settings_dict["TEST"]["NAME"] = "bench_crawl"
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        from crawling import services
        from crawling.models import CrawlJob
        from crawling.tasks import crawl_job_run
        from search import engine
        from search.models import SourceImage
        from search.services import source_images_analyse

        crawl_job_run.delay = lambda *a, **k: None  # type: ignore[method-assign]  # driven in this process
        photos = [p.read_bytes() for p in sorted(Path(args.faces).glob("*.jpg"))]
        server = serve(build_site(args.pages, photos))
        base = f"http://127.0.0.1:{server.server_address[1]}"
        from django.contrib.auth.models import Group

        from accounts.models import User

        dpo = User.objects.create_user(email="bench-dpo@example.com", password=None)
        dpo.groups.add(Group.objects.get(name="dpo"))
        source = services.source_add(
            name="bench",
            scope=[base + "/"],
            jurisdictions=["FR"],
            lawful_basis="legitimate_interests",
            art9_condition="manifestly_public",
            dpia_reference="BENCH",
            page_limit=args.pages + 10,
            max_depth=args.pages + 5,
        )
        services.source_approve(source=source, actor=dpo)
        job = services.crawl_job_create(source=source)
        start = time.perf_counter()
        while services.crawl_job_run(job_id=job.pk, budget_seconds=3600):
            pass
        crawl_seconds = time.perf_counter() - start
        job = CrawlJob.objects.get(pk=job.pk)

        engine.warm_up()
        ids = list(SourceImage.objects.values_list("pk", flat=True))
        start = time.perf_counter()
        faces = 0
        for i in range(0, len(ids), settings.FACE_BATCH_SIZE):
            faces += source_images_analyse(image_ids=ids[i : i + settings.FACE_BATCH_SIZE]).faces
        face_seconds = time.perf_counter() - start
        server.shutdown()

        total = crawl_seconds + face_seconds
        seen = f"{job.pages} pages, {job.images_seen} images seen, {job.stored} stored"
        print(f"crawl (politeness off): {seen} in {crawl_seconds:.1f} s")
        print(
            f"  {job.pages / crawl_seconds:8.1f} pages/s   {job.images_seen / crawl_seconds:8.1f} images seen/s   "
            f"{job.stored / crawl_seconds:8.1f} images stored/s"
        )
        print(f"  skipped: {job.skipped}")
        print(
            f"face pipeline: {len(ids)} images, {faces} faces in {face_seconds:.1f} s ({len(ids) / face_seconds:.1f} images/s)"
        )
        print(f"share of time in the face pipeline: {face_seconds / total:.0%}")
    finally:
        connection.creation.destroy_test_db("bench_crawl", verbosity=0)


if __name__ == "__main__":
    main()
