"""Media storage: the local filesystem by default, S3 (or any S3-compatible server) when configured.

Every file the product keeps (source photos, face crops, search probes, access packages) goes
through Django's storage API, so a worker on another machine reads the same objects as the web
servers. ``STORAGES["default"]`` is built by :func:`media_storage` from the environment:

- nothing set: ``FileSystemStorage`` under ``MEDIA_ROOT`` (one machine);
- ``STORAGE_URL=s3://KEY:SECRET@HOST:PORT/BUCKET`` (``s3+http://`` for a server without TLS,
  such as the embedded SeaweedFS), or ``AWS_S3_ENDPOINT_URL`` with ``AWS_ACCESS_KEY_ID``,
  ``AWS_SECRET_ACCESS_KEY`` and ``AWS_STORAGE_BUCKET_NAME``: ``config.s3storage.S3MediaStorage``;
- ``STORAGE=s3`` alone (development): the embedded SeaweedFS (config/devservices/seaweedfs.py), started on demand.

Objects are private (no ACL grants, signed URLs only); the product never hands out their URLs:
crops and packages are streamed through its own views, which check who is asking.

A storage server that cannot be reached raises :class:`StorageUnavailable` (an ``OSError``):
the web answers 503 (config.middleware) and face tasks retry without counting an attempt.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

T = TypeVar("T")

FILESYSTEM = "django.core.files.storage.FileSystemStorage"
S3_BACKEND = "config.s3storage.S3MediaStorage"


class StorageUnavailable(OSError):
    """The object storage server could not be reached (or answered with a server error)."""


def _transport_error(exc: BaseException) -> bool:
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(exc, ClientError):
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        code = str(exc.response.get("Error", {}).get("Code", ""))
        return status >= 500 or code in (
            "SlowDown",
            "ServiceUnavailable",
            "InternalError",
            "RequestTimeout",
        )
    return isinstance(exc, BotoCoreError)


def unavailable(what: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    def decorate(method: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(method)
        def wrapper(*args: Any, **kwargs: Any) -> T:
            try:
                return method(*args, **kwargs)
            except Exception as exc:
                if _transport_error(exc):
                    raise StorageUnavailable(
                        f"Object storage is unreachable ({what}: {type(exc).__name__})."
                    ) from exc
                raise

        return wrapper

    return decorate


def parse_storage_url(url: str) -> dict[str, str]:
    """``s3://KEY:SECRET@HOST[:PORT]/BUCKET`` (TLS) or ``s3+http://…`` (plain HTTP) → S3 options."""
    parts = urlsplit(url)
    schemes = {"s3": "https", "s3+https": "https", "s3+http": "http"}
    if parts.scheme not in schemes:
        raise ImproperlyConfigured(
            "STORAGE_URL must look like s3://KEY:SECRET@HOST:PORT/BUCKET (s3+http:// for a server without TLS)."
        )
    bucket = parts.path.strip("/")
    if not (parts.hostname and parts.username and parts.password and bucket) or "/" in bucket:
        raise ImproperlyConfigured(
            "STORAGE_URL needs a key, a secret, a host and one bucket: s3://KEY:SECRET@HOST:PORT/BUCKET."
        )
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    port = f":{parts.port}" if parts.port else ""
    return {
        "endpoint_url": f"{schemes[parts.scheme]}://{host}{port}",
        "access_key": unquote(parts.username),
        "secret_key": unquote(parts.password),
        "bucket_name": bucket,
    }


def s3_options(
    *,
    endpoint_url: str,
    access_key: str,
    secret_key: str,
    bucket_name: str,
    region_name: str = "us-east-1",
) -> dict[str, Any]:
    """OPTIONS for ``S3MediaStorage``: private objects, never overwritten, quick to report an outage."""
    from botocore.config import Config

    return {
        "endpoint_url": endpoint_url or None,
        "access_key": access_key or None,
        "secret_key": secret_key or None,
        "bucket_name": bucket_name,
        "region_name": region_name,
        "default_acl": "private",
        "querystring_auth": True,  # any URL made is signed and short-lived; the product streams files itself
        "querystring_expire": 300,
        "file_overwrite": False,  # as on disk: a second probe of the same photo gets its own key
        # The client config wins over addressing_style / signature_version options, so they go in it.
        "client_config": Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            connect_timeout=3,
            read_timeout=30,
            retries={"max_attempts": 3, "mode": "standard"},
        ),
    }


def media_storage(env: Any, *, production: bool) -> dict[str, Any]:
    """``STORAGES["default"]`` from the environment (see the module docstring)."""
    url = env.str("STORAGE_URL", default="")
    endpoint = env.str("AWS_S3_ENDPOINT_URL", default="")
    if url:
        found = parse_storage_url(url)
    elif endpoint or env.str("AWS_STORAGE_BUCKET_NAME", default=""):
        found = {
            "endpoint_url": endpoint,
            "access_key": env.str("AWS_ACCESS_KEY_ID", default=""),
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default=""),
            "bucket_name": env.str("AWS_STORAGE_BUCKET_NAME", default=""),
        }
        if not found["bucket_name"]:
            raise ImproperlyConfigured(
                "AWS_S3_ENDPOINT_URL is set but AWS_STORAGE_BUCKET_NAME is not."
            )
    elif env.str("STORAGE", default="").lower() == "s3":
        if production:
            raise ImproperlyConfigured(
                "STORAGE=s3 starts the embedded SeaweedFS: set STORAGE_URL in production mode."
            )
        from config import devservices

        found = parse_storage_url(devservices.ensure_seaweedfs())
    else:
        return {"BACKEND": FILESYSTEM}
    region = env.str("AWS_S3_REGION_NAME", default="us-east-1")
    return {"BACKEND": S3_BACKEND, "OPTIONS": s3_options(**found, region_name=region)}
