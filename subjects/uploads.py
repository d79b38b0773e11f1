"""Keep selfies in memory: they must never touch the disk, not even as a temporary upload file."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import MemoryFileUploadHandler, StopUpload


class SelfieMemoryHandler(MemoryFileUploadHandler):
    """Always in memory (Django's default spills uploads over 2.5 MB to a temporary file)."""

    def handle_raw_input(self, input_data: Any, META: Any, content_length: int, boundary: Any, encoding: Any = None) -> None:
        # The request is refused as a whole if it is bigger than a selfie can be.
        if content_length > settings.SUBJECT_SELFIE_MAX_BYTES + 100_000:
            raise StopUpload(connection_reset=True)
        self.activated = True

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        if start + len(raw_data) > settings.SUBJECT_SELFIE_MAX_BYTES:
            raise StopUpload(connection_reset=True)
        return super().receive_data_chunk(raw_data, start)
