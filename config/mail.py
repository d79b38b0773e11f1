"""Development email: each message to its own private file, and only a one-line notice in the log.

Used when no ``EMAIL_URL`` is set. Emails carry secret links (request status, verification,
invitations, password resets), so the body never reaches the console or the run log: the
message is written to ``EMAIL_FILE_PATH`` (default ``.data/mail/``) as an ``.eml`` file readable
by its owner only (0600, folder 0700), and the log says subject, recipients and file.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend

logger = logging.getLogger(__name__)


class PrivateFileEmailBackend(BaseEmailBackend):
    def __init__(self, *args: Any, file_path: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.directory = Path(file_path or settings.EMAIL_FILE_PATH)

    def _prepare_directory(self) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.directory.chmod(0o700)

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        if not email_messages:
            return 0
        try:
            self._prepare_directory()
        except OSError:
            if not self.fail_silently:
                raise
            return 0
        sent = 0
        for message in email_messages:
            if not message.recipients():
                continue
            try:
                path = self._write(message)
            except OSError:
                if not self.fail_silently:
                    raise
                continue
            logger.info(
                "Email %r to %s written to %s",
                message.subject,
                ", ".join(message.recipients()),
                path,
            )
            sent += 1
        return sent

    def _write(self, message: EmailMessage) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        path = self.directory / f"{stamp}-{uuid.uuid4().hex[:12]}.eml"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(message.message().as_bytes())
        return path
