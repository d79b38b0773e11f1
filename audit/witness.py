"""Checkpoints published outside the database, written once and never overwritten.

Anyone holding the app's database credentials can rewrite the log's tables, and can read the
signing key; they cannot rewrite a checkpoint that has already left the database. So every signed
checkpoint is pushed to ``AUDIT_CHECKPOINT_STORE`` (setting, or the environment variable of that
name), as ``<tree size>.note`` (the signed note text, as in an audit bundle):

- a directory (``/path`` or ``file:///path``): each file created exclusively, fsynced, then made
  read-only. In production mount storage the database's administrators cannot rewrite.
- an S3 bucket, ``s3://BUCKET[/PREFIX]`` (credentials from the usual AWS chain) or
  ``s3://KEY:SECRET@HOST:PORT/BUCKET[/PREFIX]`` (``s3+http://`` without TLS): each object put with
  ``If-None-Match: *`` (never replaces one) and, where the bucket has object lock enabled, in
  COMPLIANCE mode for ``AUDIT_CHECKPOINT_LOCK_DAYS`` (default 3650) unless the bucket's default
  retention already applies.

A checkpoint of a size already held with other content is a fork: :class:`CheckpointConflict`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)


class CheckpointConflict(Exception):
    """The store already holds a different checkpoint of this size (a fork)."""


class CheckpointStore(Protocol):
    def put_once(self, size: int, note: str) -> bool: ...

    def notes(self) -> Iterator[tuple[str, str]]: ...

    def sizes(self) -> set[int]: ...


def _name(size: int) -> str:
    return f"{int(size)}.note"


class DirectoryStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    def put_once(self, size: int, note: str) -> bool:
        """True when written now, False when this very note was already there."""
        self.path.mkdir(parents=True, exist_ok=True)
        target = self.path / _name(size)
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        except FileExistsError:
            if target.read_text(encoding="utf-8") != note:
                raise CheckpointConflict(
                    f"{target} holds another checkpoint of size {size}"
                ) from None
            return False
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(note)
            out.flush()
            os.fsync(out.fileno())
        return True

    def sizes(self) -> set[int]:
        if not self.path.is_dir():
            return set()
        return {int(p.stem) for p in self.path.glob("*.note") if p.stem.isdigit()}

    def notes(self) -> Iterator[tuple[str, str]]:
        if not self.path.is_dir():
            return
        for path in sorted(self.path.glob("*.note"), key=lambda p: (len(p.name), p.name)):
            yield str(path), path.read_text(encoding="utf-8")


class S3Store:
    def __init__(self, url: str) -> None:
        import boto3
        from botocore.config import Config

        parts = urlsplit(url)
        if parts.hostname and parts.username:
            bucket, _, prefix = parts.path.lstrip("/").partition("/")
            scheme = "http" if parts.scheme == "s3+http" else "https"
            port = f":{parts.port}" if parts.port else ""
            options: dict[str, Any] = {
                "endpoint_url": f"{scheme}://{parts.hostname}{port}",
                "aws_access_key_id": unquote(parts.username),
                "aws_secret_access_key": unquote(parts.password or ""),
                "region_name": "us-east-1",
            }
        else:
            bucket, prefix, options = parts.hostname or "", parts.path.strip("/"), {}
        if not bucket:
            raise ImproperlyConfigured("AUDIT_CHECKPOINT_STORE: no bucket in " + parts.scheme)
        self.bucket, self.prefix = bucket, (prefix.strip("/") + "/" if prefix.strip("/") else "")
        self.client = boto3.client(
            "s3",
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
            **options,
        )
        self._lock: dict[str, Any] | None = None

    def _lock_args(self) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        if self._lock is None:
            self._lock = {}
            try:
                conf = self.client.get_object_lock_configuration(Bucket=self.bucket)
            except ClientError:  # no object lock on this bucket (or the server has none)
                return self._lock
            lock = conf.get("ObjectLockConfiguration", {})
            if lock.get("ObjectLockEnabled") == "Enabled" and not lock.get("Rule"):
                days = int(getattr(settings, "AUDIT_CHECKPOINT_LOCK_DAYS", 3650))
                self._lock = {"ObjectLockMode": "COMPLIANCE", "days": days}
        if not self._lock:
            return {}
        until = datetime.now(UTC) + timedelta(days=self._lock["days"])
        return {"ObjectLockMode": "COMPLIANCE", "ObjectLockRetainUntilDate": until}

    def _get(self, key: str) -> str | None:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except self.client.exceptions.NoSuchKey:
            return None
        return body.decode("utf-8")

    def put_once(self, size: int, note: str) -> bool:
        from botocore.exceptions import ClientError

        key = self.prefix + _name(size)
        held = self._get(key)
        if held is None:
            try:
                self.client.put_object(
                    Bucket=self.bucket,
                    Key=key,
                    Body=note.encode("utf-8"),
                    ContentType="text/plain; charset=utf-8",
                    IfNoneMatch="*",
                    **self._lock_args(),
                )
                return True
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in ("PreconditionFailed", "409"):
                    raise
                held = self._get(key)  # someone else wrote it first
        if held != note:
            raise CheckpointConflict(f"s3://{self.bucket}/{key} holds another checkpoint")
        return False

    def _keys(self) -> Iterator[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix
        )
        for page in pages:
            for obj in page.get("Contents", []):
                if obj["Key"].endswith(".note"):
                    yield obj["Key"]

    def sizes(self) -> set[int]:
        stems = (key[len(self.prefix) : -len(".note")] for key in self._keys())
        return {int(s) for s in stems if s.isdigit()}

    def notes(self) -> Iterator[tuple[str, str]]:
        for key in self._keys():
            yield f"s3://{self.bucket}/{key}", self._get(key) or ""


def store_for(location: str) -> CheckpointStore:
    if location.startswith(("s3://", "s3+http://", "s3+https://")):
        return S3Store(location)
    if location.startswith("file://"):
        location = urlsplit(location).path
    return DirectoryStore(Path(location))


def checkpoint_store() -> CheckpointStore | None:
    """The configured outside store, or None when publishing is not configured."""
    location = getattr(settings, "AUDIT_CHECKPOINT_STORE", "") or os.environ.get(
        "AUDIT_CHECKPOINT_STORE", ""
    )
    return store_for(str(location)) if location else None


def checkpoints_publish(store: CheckpointStore | None = None) -> int:
    """Push every checkpoint in the database that the store does not hold yet; how many were new.

    Idempotent and safe to run from several processes (write-once objects). Raises
    :class:`CheckpointConflict` when the store holds another checkpoint of a size (a fork).
    """
    from audit.models import Checkpoint

    store = store or checkpoint_store()
    if store is None:
        return 0
    held = store.sizes()
    written = 0
    rows = Checkpoint.objects.exclude(tree_size__in=held).order_by("tree_size")
    for size, note in rows.values_list("tree_size", "note").iterator():
        written += store.put_once(size, note)
    return written


def checkpoint_published(size: int, note: str) -> None:
    """Push one new checkpoint (after its transaction commits). An unreachable store is logged and
    left to the next catch-up (``checkpoints_publish``); a fork is logged as an error."""
    store = checkpoint_store()
    if store is None:
        return
    try:
        store.put_once(size, note)
    except CheckpointConflict:
        logger.error("audit checkpoint %s: the outside store holds another one (a fork)", size)
    except Exception:  # an outage of the outside store must not stop the sequencer
        logger.warning("audit checkpoint %s not published yet", size, exc_info=True)


class TrustedReport:
    def __init__(self) -> None:
        self.ok, self.checked, self.leaves, self.fault = True, 0, 0, ""

    def fail(self, message: str) -> TrustedReport:
        self.ok, self.fault = False, message
        return self


def checkpoints_check(notes: list[tuple[str, str]], *, vkey: str | None = None) -> TrustedReport:
    """Check the database's tree against checkpoints held outside it.

    Every leaf is recomputed from its row (the stored leaf hashes, tree and checkpoints are not
    trusted); each held checkpoint must carry a valid signature by the log's key and its root must
    equal the tree of the rows at its size. The first fault is reported (which checkpoint, which
    size). Also: no gaps in leaf indices.
    """
    from audit import merkle, note
    from audit.leaves import LEAF_COLUMNS, leaf_bytes, leaf_from_row
    from audit.models import AuditEvent
    from audit.signing import verifier_key

    report = TrustedReport()
    key = vkey or verifier_key()
    wanted: dict[int, list[tuple[str, bytes]]] = {}
    for where, text in notes:
        try:
            _, size, root = note.checkpoint_parse(note.note_verify(text, key))
        except ValueError as exc:  # note.NoteError
            return report.fail(f"{where}: not a checkpoint signed by the log's key ({exc})")
        wanted.setdefault(size, []).append((where, root))
    stack: list[tuple[int, bytes]] = []

    def root_now() -> bytes:
        if not stack:
            return merkle.root([])
        r = stack[-1][1]
        for _, h in reversed(stack[:-1]):
            r = merkle.node_hash(h, r)
        return r

    def check(size: int) -> str:
        for where, root in wanted.get(size, []):
            if root != root_now():
                return f"{where}: the database's tree at size {size} has another root (rewritten)"
            report.checked += 1
        return ""

    if fault := check(0):
        return report.fail(fault)
    rows = (
        AuditEvent.objects.filter(leaf_index__isnull=False)
        .order_by("leaf_index")
        .values_list("leaf_index", *LEAF_COLUMNS)
        .iterator(chunk_size=5000)
    )
    for row in rows:
        if row[0] != report.leaves:
            return report.fail(
                f"leaf index {report.leaves} is missing (next is {row[0]}): rows removed"
            )
        h, height = merkle.leaf_hash(leaf_bytes(leaf_from_row(row[1:]))), 0
        while stack and stack[-1][0] == height:
            h, height = merkle.node_hash(stack.pop()[1], h), height + 1
        stack.append((height, h))
        report.leaves += 1
        if report.leaves in wanted and (fault := check(report.leaves)):
            return report.fail(fault)
    for size in sorted(wanted):
        if size > report.leaves:
            where = wanted[size][0][0]
            return report.fail(
                f"{where}: tree size {size} but the database holds {report.leaves} leaves "
                f"(truncated or rows removed)"
            )
    return report
