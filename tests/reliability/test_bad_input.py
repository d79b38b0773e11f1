"""A table of bad inputs through the API and the public form: each gets its documented 4xx and message.

No case may answer 5xx, create a row, or leave a file in MEDIA_ROOT. The size cases are also
sent over a real socket: the 413 arrives before a single byte of the body is sent.
"""

from __future__ import annotations

import io
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image
from rest_framework.test import APIClient

from accounts.models import Role
from search.models import SearchRequest
from subjects.models import SubjectRequest
from tests.accounts import factories
from tests.accounts.factories import api_token
from tests.search import photos

API = "/api/v1/searches/"
FORM = "/rights/request/access/"
FIELDS = {
    "purpose": "Identify a fraud suspect",
    "lawful_basis": "legitimate_interests",
    "case_reference": "CASE-1",
}
MB = 1024 * 1024


def wide_png(width: int = 100_000, height: int = 10) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (128, 128, 128)).save(out, format="PNG")
    return out.getvalue()


def upload(
    data: bytes, name: str = "x.jpg", content_type: str = "image/jpeg"
) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def multipart(fields: dict[str, bytes], boundary: str = "XyZ") -> tuple[bytes, str]:
    """A hand-built multipart body (raw bytes: non-UTF-8 values stay as they are)."""
    parts = [
        b"--"
        + boundary.encode()
        + b'\r\nContent-Disposition: form-data; name="'
        + k.encode()
        + b'"\r\n\r\n'
        + v
        + b"\r\n"
        for k, v in fields.items()
    ]
    return b"".join(
        parts
    ) + b"--" + boundary.encode() + b"--\r\n", f"multipart/form-data; boundary={boundary}"


@dataclass(frozen=True)
class Case:
    id: str
    send: Callable[[APIClient, Client], object]
    status: int
    says: str  # in the JSON error code/message (API) or the page (people)


def api_post(data: dict[str, object], **extra: object) -> Callable[[APIClient, Client], object]:
    return lambda api, web: api.post(API, data, format="multipart", **extra)


def form_post(
    data: dict[str, object], path: str = FORM, **extra: object
) -> Callable[[APIClient, Client], object]:
    return lambda api, web: web.post(path, data, **extra)


def raw(
    client: str, path: str, body: bytes, content_type: str, **extra: object
) -> Callable[[APIClient, Client], object]:
    return lambda api, web: (api if client == "api" else web).generic(
        "POST", path, body, content_type=content_type, **extra
    )


NON_UTF8_PURPOSE, BOUNDARY_TYPE = multipart(
    {**{k: v.encode() for k, v in FIELDS.items()}, "purpose": b"\xff\xfe\xfa"}
)
NON_UTF8_EMAIL, _ = multipart({"email": b"caf\xe9@exampl\xe9.net"})

CASES = [
    # --- the search API (token of an analyst) ---
    Case(
        "api-pdf-named-jpg",
        api_post({**FIELDS, "image": upload(photos.NOT_AN_IMAGE)}),
        400,
        "not_an_image",
    ),
    Case(
        "api-truncated-jpeg",
        api_post({**FIELDS, "image": upload(photos.truncated_jpeg())}),
        400,
        "damaged",
    ),
    Case(
        "api-png-bomb",
        api_post({**FIELDS, "image": upload(photos.png_bomb(), "x.png", "image/png")}),
        400,
        "too_many_pixels",
    ),
    Case(
        "api-svg",
        api_post({**FIELDS, "image": upload(photos.SVG, "x.svg", "image/svg+xml")}),
        400,
        "svg",
    ),
    Case(
        "api-heic",
        api_post({**FIELDS, "image": upload(photos.HEIC, "x.heic", "image/heic")}),
        400,
        "unsupported_format",
    ),
    Case("api-zero-bytes", api_post({**FIELDS, "image": upload(b"")}), 400, "invalid"),
    Case(
        "api-21mb-file",
        api_post({**FIELDS, "image": upload(photos.huge_jpeg(21))}),
        413,
        "too_large",
    ),
    Case(
        "api-60mb-file",
        api_post({**FIELDS, "image": upload(photos.huge_jpeg(60))}),
        413,
        "too_large",
    ),
    Case("api-missing-image", api_post(FIELDS), 400, "invalid"),
    Case(
        "api-missing-purpose",
        api_post({**FIELDS, "purpose": "", "image": upload(photos.photo("img2.jpg"))}),
        400,
        "invalid",
    ),
    Case(
        "api-blank-purpose",
        api_post({**FIELDS, "purpose": "   ", "image": upload(photos.photo("img2.jpg"))}),
        400,
        "invalid",
    ),
    Case(
        "api-purpose-501-chars",
        api_post({**FIELDS, "purpose": "p" * 501, "image": upload(photos.photo("img2.jpg"))}),
        400,
        "invalid",
    ),
    Case(
        "api-case-ref-101-chars",
        api_post(
            {**FIELDS, "case_reference": "c" * 101, "image": upload(photos.photo("img2.jpg"))}
        ),
        400,
        "invalid",
    ),
    Case(
        "api-unknown-lawful-basis",
        api_post({**FIELDS, "lawful_basis": "because", "image": upload(photos.photo("img2.jpg"))}),
        400,
        "invalid",
    ),
    Case(
        "api-json-instead-of-multipart",
        lambda api, web: api.post(API, FIELDS, format="json"),
        415,
        "Unsupported media type",
    ),
    Case(
        "api-multipart-without-boundary",
        raw("api", API, b"garbage", "multipart/form-data"),
        400,
        "boundary",
    ),
    Case(
        "api-non-utf8-purpose-no-image",
        raw("api", API, NON_UTF8_PURPOSE, BOUNDARY_TYPE),
        400,
        "invalid",
    ),
    Case(
        "api-content-length-not-a-number",
        raw("api", API, b"", "multipart/form-data; boundary=x", CONTENT_LENGTH="abc"),
        400,
        "bad_request",
    ),
    Case(
        "api-negative-content-length",
        raw("api", API, b"", "multipart/form-data; boundary=x", CONTENT_LENGTH="-5"),
        400,
        "bad_request",
    ),
    Case("api-search-id-not-a-number", lambda api, web: api.get("/api/v1/searches/abc/"), 404, ""),
    Case(
        "api-someone-elses-or-missing-search",
        lambda api, web: api.get("/api/v1/searches/987654/"),
        404,
        "",
    ),
    Case(
        "api-no-token",
        lambda api, web: APIClient().post(API, FIELDS, format="multipart"),
        401,
        "API token",
    ),
    Case(
        "api-bad-token",
        lambda api, web: APIClient(HTTP_AUTHORIZATION="Token nonsense").post(API, FIELDS),
        401,
        "not valid",
    ),
    Case(
        "api-bad-host-header",
        lambda api, web: api.get("/api/v1/searches/1/", HTTP_HOST="evil.example"),
        400,
        "Bad request",
    ),
    # --- the public request form (no account) ---
    Case(
        "form-email-300-chars",
        form_post({"email": "a" * 288 + "@example.net"}),
        400,
        "at most 254 characters",
    ),
    Case(
        "form-email-255-chars",
        form_post({"email": "a" * 243 + "@example.net"}),
        400,
        "at most 254 characters",
    ),
    Case("form-email-not-an-address", form_post({"email": "not-an-email"}), 400, "valid email"),
    Case("form-email-missing", form_post({"details": "hello"}), 400, "required"),
    Case(
        "form-email-non-utf8", raw("web", FORM, NON_UTF8_EMAIL, BOUNDARY_TYPE), 400, "valid email"
    ),
    Case(
        "form-details-5001-chars",
        form_post({"email": "a@example.net", "details": "d" * 5001}),
        400,
        "at most 5000",
    ),
    Case(
        "form-url-javascript",
        form_post({"email": "a@example.net", "urls": "javascript:alert(1)"}),
        400,
        "Not a web address",
    ),
    Case(
        "form-url-file-scheme",
        form_post({"email": "a@example.net", "urls": "file:///etc/passwd"}),
        400,
        "Not a web address",
    ),
    Case(
        "form-urls-20001-chars",
        form_post({"email": "a@example.net", "urls": "https://x.example/" + "a" * 20000}),
        400,
        "at most 20000",
    ),
    Case(
        "form-selfie-svg",
        form_post(
            {"email": "a@example.net", "selfie": upload(photos.SVG, "me.svg", "image/svg+xml")}
        ),
        400,
        "SVG",
    ),
    Case(
        "form-selfie-zero-bytes",
        form_post({"email": "a@example.net", "selfie": upload(b"", "me.jpg")}),
        400,
        "empty",
    ),
    Case(
        "form-selfie-truncated",
        form_post({"email": "a@example.net", "selfie": upload(photos.truncated_jpeg(), "me.jpg")}),
        400,
        "damaged",
    ),
    Case(
        "form-selfie-png-bomb",
        form_post({"email": "a@example.net", "selfie": upload(photos.png_bomb(), "me.png")}),
        400,
        "megapixels",
    ),
    Case(
        "form-selfie-just-over-10mb",
        form_post(
            {"email": "a@example.net", "selfie": upload(photos.huge_jpeg(10) + b"\x00" * 1000)}
        ),
        400,
        "the limit is 10 MB",
    ),
    Case(
        "form-selfie-25mb",
        form_post({"email": "a@example.net", "selfie": upload(photos.huge_jpeg(25))}),
        413,
        "the limit is 10 MB",
    ),
    Case(
        "form-rectification-without-correction",
        form_post({"email": "a@example.net"}, "/rights/request/rectification/"),
        400,
        "required",
    ),
    Case(
        "form-unknown-kind",
        form_post({"email": "a@example.net"}, "/rights/request/nonsense/"),
        404,
        "Not found",
    ),
    Case(
        "form-non-utf8-path", lambda api, web: web.get("/rights/request/%FF%FE/"), 404, "Not found"
    ),
    Case(
        "form-body-over-5mb-elsewhere",
        raw("web", "/accounts/login/", b"x" * (6 * MB), "application/x-www-form-urlencoded"),
        413,
        "too large",
    ),
    Case(
        "form-bad-host-header",
        lambda api, web: web.get(FORM, HTTP_HOST="evil.example"),
        400,
        "Bad request",
    ),
    Case(
        "form-host-header-with-junk",
        lambda api, web: web.get(FORM, HTTP_HOST="exa mple.org:xyz"),
        400,
        "Bad request",
    ),
    Case(
        "form-without-csrf-token",
        lambda api, web: Client(enforce_csrf_checks=True).post(FORM, {"email": "a@example.net"}),
        403,
        "CSRF",
    ),
]


def media_files() -> set[Path]:
    root = Path(settings.MEDIA_ROOT)
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


@pytest.fixture
def api(db):
    org = factories.organisation("Bad Input Ltd")
    user = factories.member(org, role=Role.ANALYST, email="bad-input@acme.example")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(user)}")
    return client


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_gets_its_4xx_and_message(case: Case, api, settings):
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["testserver"]
    before = media_files()
    web = Client(raise_request_exception=True)
    response = case.send(api, web)
    assert response.status_code == case.status, response.content[:600]
    body = response.content.decode("utf-8", "replace")
    if (
        response.get("Content-Type", "").startswith("application/json")
        and case.id.startswith("api-")
        and case.status in (400, 413)
    ):
        error = response.json().get("error", response.json())
        assert case.says in f"{error.get('code', '')} {error.get('message', '')} {error}"
    else:
        assert case.says.lower() in body.lower(), body[:600]
    assert not SearchRequest.objects.exists()
    assert not SubjectRequest.objects.exists()
    assert media_files() == before


def test_bad_input_table_has_at_least_30_cases():
    assert len(CASES) >= 30


# --- over a real socket: refused before the body is read ------------------------------------------


def headers_only(live_server, path: str, length: int, extra: str = "") -> str:
    """Send only the request line and headers, claiming ``length`` bytes of body; return the status line."""
    host, port = live_server.thread.host, live_server.thread.port
    with socket.create_connection((host, port), timeout=15) as sock:
        sock.sendall(
            (
                f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{extra}"
                f"Content-Type: multipart/form-data; boundary=xyz\r\nContent-Length: {length}\r\n\r\n"
            ).encode()
        )
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    return received.split(b"\r\n", 1)[0].decode()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("path", "auth"),
    [(API, True), (FORM, False), ("/search/", False)],
    ids=["api-105mb-declared", "public-form-105mb-declared", "search-page-105mb-declared"],
)
def test_oversized_body_refused_from_content_length(live_server, path, auth):
    """Bad input: Content-Length of 105 MB and no body at all: the answer (413) comes without reading it."""
    extra = ""
    if auth:
        org = factories.organisation("Socket Ltd")
        user = factories.member(org, role=Role.ANALYST, email="socket@acme.example")
        extra = f"Authorization: Token {api_token(user)}\r\n"
    assert " 413 " in headers_only(live_server, path, 105 * MB, extra) + " "
