"""A small website served by the test process on loopback, with every case the crawler must handle."""

from __future__ import annotations

import ssl
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.search import photos


def _page(body: str, head: str = "", lang: str = "fr") -> bytes:
    return (
        f'<!doctype html><html lang="{lang}"><head>{head}</head><body>{body}</body></html>'.encode()
    )


def routes() -> dict[str, tuple[int, dict[str, str], bytes]]:
    jpg = {"Content-Type": "image/jpeg"}
    html = {"Content-Type": "text/html; charset=utf-8"}
    return {
        "/robots.txt": (
            200,
            {"Content-Type": "text/plain"},
            b"User-agent: *\nDisallow: /private/\n",
        ),
        "/sitemap.xml": (
            200,
            {"Content-Type": "application/xml"},
            b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            b"<url><loc>{base}/from-sitemap.html</loc></url></urlset>",
        ),
        "/.well-known/tdmrep.json": (
            200,
            {"Content-Type": "application/json"},
            b'[{"location": "/tdm/*", "tdm-reservation": 1}]',
        ),
        "/": (
            200,
            html,
            _page(
                '<img src="/img/a.jpg" srcset="/img/a.jpg 1x, /img/couple.jpg 2x">'
                '<a href="/page1.html">1</a> <a href="/private/secret.html">private</a>'
                '<a href="/optout-header.html">h</a> <a href="/optout-meta.html">m</a> <a href="/tdm/page.html">t</a>'
                '<a href="/tdm-header.html">th</a> <a href="/redirect-out">r</a> <a href="/redirect-in">ri</a>'
                '<a href="/big.html">big</a> <a href="/slow.html">slow</a> <a href="/gone.html">gone</a>'
                '<a href="http://169.254.169.254/latest/meta-data/">metadata</a> <a href="http://10.0.0.1/admin">lan</a>'
                '<img src="http://169.254.169.254/latest/img.jpg"><img src="/img/noindex.jpg"><img src="/img/copy-of-a.jpg">'
                '<img src="/img/suppressed.jpg"><img src="/img/not-an-image.jpg">',
                head='<meta property="og:image" content="/img/og.jpg">',
            ),
        ),
        "/page1.html": (
            200,
            html,
            _page(
                '<picture><source srcset="/img/webp.webp"><img src="/img/a.jpg"></picture>'
                '<img src="/img/three.jpg"><a href="/">home</a>'
            ),
        ),
        "/from-sitemap.html": (200, html, _page('<img src="/img/sitemap.jpg">')),
        "/private/secret.html": (200, html, _page('<img src="/img/private.jpg">')),
        "/optout-header.html": (
            200,
            {**html, "X-Robots-Tag": "noimageindex"},
            _page('<img src="/img/hdr.jpg">'),
        ),
        "/optout-meta.html": (
            200,
            html,
            _page('<img src="/img/meta.jpg">', head='<meta name="robots" content="noimageindex">'),
        ),
        "/tdm/page.html": (200, html, _page('<img src="/img/tdm.jpg">')),
        "/tdm-header.html": (
            200,
            {**html, "tdm-reservation": "1"},
            _page('<img src="/img/tdmh.jpg">'),
        ),
        "/redirect-out": (302, {"Location": "http://example.invalid/elsewhere"}, b""),
        "/redirect-in": (302, {"Location": "/page1.html"}, b""),
        "/gone.html": (404, html, b"gone"),
        "/img/a.jpg": (200, jpg, photos.photo("img1.jpg")),
        "/img/copy-of-a.jpg": (200, jpg, photos.photo("img1.jpg")),
        "/img/couple.jpg": (200, jpg, photos.photo("couple.jpg")),
        "/img/three.jpg": (200, jpg, photos.photo("img3.jpg")),
        "/img/webp.webp": (200, {"Content-Type": "image/webp"}, photos.photo("img47.jpg")),
        "/img/og.jpg": (200, jpg, photos.photo("img57.jpg")),
        "/img/sitemap.jpg": (200, jpg, photos.photo("img53.jpg")),
        "/img/noindex.jpg": (
            200,
            {**jpg, "X-Robots-Tag": "noimageindex"},
            photos.photo("img5.jpg"),
        ),
        "/img/suppressed.jpg": (200, jpg, photos.photo("img6.jpg")),
        "/img/not-an-image.jpg": (200, jpg, photos.NOT_AN_IMAGE),
        "/img/private.jpg": (200, jpg, photos.photo("img7.jpg")),
        "/img/hdr.jpg": (200, jpg, photos.photo("img8.jpg")),
        "/img/meta.jpg": (200, jpg, photos.photo("img9.jpg")),
        "/img/tdm.jpg": (200, jpg, photos.photo("img10.jpg")),
        "/img/tdmh.jpg": (200, jpg, photos.photo("img12.jpg")),
    }


class Site:
    def __init__(self, scheme: str = "http") -> None:
        self.scheme = scheme
        self.hits: Counter[str] = Counter()
        self.hosts: list[str] = []  # the Host header of every request, in order
        self.routes = routes()
        self.server: ThreadingHTTPServer | None = None

    @property
    def base(self) -> str:
        assert self.server is not None
        return f"{self.scheme}://127.0.0.1:{self.server.server_address[1]}"


@contextmanager
def serve(tls: ssl.SSLContext | None = None) -> Iterator[Site]:
    """Serve the site on loopback; with ``tls``, over https with that server context."""
    site = Site(scheme="https" if tls else "http")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            site.hits[path] += 1
            site.hosts.append(self.headers.get("Host", ""))
            if path == "/big.html":  # 50 MB, no Content-Length: the crawler must stop reading
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                try:
                    for _ in range(50):
                        self.wfile.write(b"<p>" + b"x" * (1024 * 1024))
                except (BrokenPipeError, ConnectionResetError):
                    pass
                return
            if path == "/slow.html":  # headers, then nothing: a response that never finishes
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", "1000")
                self.end_headers()
                self.wfile.write(b"<html>")
                time.sleep(20)
                return
            status, headers, body = site.routes.get(
                path, (404, {"Content-Type": "text/plain"}, b"not found")
            )
            body = body.replace(b"{base}", site.base.encode())
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Set-Cookie", "tracking=1")
            self.end_headers()
            self.wfile.write(body)

    site.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    site.server.daemon_threads = True
    if tls is not None:
        site.server.socket = tls.wrap_socket(site.server.socket, server_side=True)
    thread = threading.Thread(target=site.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        site.server.shutdown()
        site.server.server_close()
