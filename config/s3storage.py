"""django-storages' S3 backend, with an unreachable server reported as ``StorageUnavailable``.

Kept apart from config/storage.py so that a deployment on the local filesystem never imports boto3.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from storages.backends.s3 import S3File, S3Storage
from storages.utils import clean_name

from config.storage import unavailable


class S3MediaFile(S3File):
    """S3File whose download (on the first read) reports an outage as StorageUnavailable."""

    _get_file = unavailable("read")(S3File._get_file)
    file = property(_get_file, S3File._set_file)


class S3MediaStorage(S3Storage):
    """Private objects on S3; every call that reaches the server raises StorageUnavailable when it cannot."""

    @unavailable("open")
    def _open(self, name: str, mode: str = "rb") -> Any:
        key = self._normalize_name(clean_name(name))
        try:
            return S3MediaFile(key, mode, self)
        except ClientError as err:
            if err.response["ResponseMetadata"]["HTTPStatusCode"] == 404:
                raise FileNotFoundError(f"File does not exist: {name}") from err
            raise

    _save = unavailable("save")(S3Storage._save)
    delete = unavailable("delete")(S3Storage.delete)
    exists = unavailable("exists")(S3Storage.exists)
    listdir = unavailable("list")(S3Storage.listdir)
    size = unavailable("size")(S3Storage.size)
