"""Keep selfies in memory: they must never touch the disk, not even as a temporary upload file."""

from __future__ import annotations

import io
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import InMemoryUploadedFile, UploadedFile
from django.core.files.uploadhandler import MemoryFileUploadHandler


class SelfieMemoryHandler(MemoryFileUploadHandler):
    """Always in memory (Django's default spills uploads over 2.5 MB to a temporary file).

    A file over SUBJECT_SELFIE_MAX_BYTES is read to its end (the body's size is already bounded
    by config.middleware.RequestSizeLimitMiddleware) but not kept: the form receives an empty
    file marked ``too_large`` and shows an error, and the other fields still arrive.
    """

    def handle_raw_input(
        self, input_data: Any, META: Any, content_length: int, boundary: Any, encoding: Any = None
    ) -> None:
        self.activated = True

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        self.too_large = False
        super().new_file(*args, **kwargs)  # raises StopFutureHandlers: keep this last

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        if self.too_large or start + len(raw_data) > settings.SUBJECT_SELFIE_MAX_BYTES:
            if not self.too_large:
                self.too_large = True
                self.file = io.BytesIO()  # drop what was kept so far
            return None
        return super().receive_data_chunk(raw_data, start)

    def file_complete(self, file_size: int) -> UploadedFile | None:
        if not self.too_large:
            return super().file_complete(file_size)
        upload = InMemoryUploadedFile(
            file=io.BytesIO(),
            field_name=self.field_name,
            name=self.file_name,
            content_type=self.content_type,
            size=file_size,
            charset=self.charset,
            content_type_extra=self.content_type_extra,
        )
        upload.too_large = True  # type: ignore[attr-defined]
        return upload
