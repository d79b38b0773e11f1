"""One shape for every refusal a person should read, whichever interface they came through.

A service raises ``ApplicationError`` (or a subclass named for its area) with a message worded for
the person, a stable ``code`` for programs, and the HTTP ``status`` to answer with. The API's error
handler and the web's refusal handling map it in one place each: the message is shown, the code is
sent, nothing is changed.
"""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    """A refusal: nothing was changed. ``message`` is for people, ``code`` for programs."""

    default_code = "refused"
    default_status = 400
    # Seconds to send as Retry-After (a refusal that passes: busy, rate limited), or None.
    retry_after: int | None = None

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.status = status or self.default_status
        self.extra = dict(extra or {})

    @property
    def reason(self) -> str:
        """The message, under the name older callers read."""
        return self.message

    def as_body(self) -> dict[str, Any]:
        """The documented API error body."""
        return {"error": {"code": self.code, "message": self.message, **self.extra}}
