"""No secret link reaches a log line: the one redaction of paths, used by every logger that writes paths.

Emailed links carry a secret in their path (a request's status page, its confirmation, an access package,
an invitation, allauth's e-mail confirmation and password reset). The pages they open move the secret into
a cookie and link only to token-free addresses (subjects/views.py), so a secret is in at most the one
request line the email's link opens; this module removes it from that line too, wherever it is logged:

- ``RedactSecretsFilter`` on the handlers of ``config/settings.py``'s LOGGING (runserver's ``django.server``
  request lines, ``django.request``'s "Not Found: <path>" warnings and error reports, anything else);
- ``RedactingGunicornLogger`` for gunicorn's access log (``gunicorn.conf.py``: ``make serve``).

A proxy in front of the product keeps its own log: configure it to drop paths under the prefixes below, or
log ``$uri`` through the same pattern (docs/operations.md).
"""

from __future__ import annotations

import logging
import re
from typing import Any

REDACTED = "[redacted]"

# A path segment ends at "/", "?", "#", whitespace or a quote (request lines are logged quoted).
_SEGMENT = r"[^/?#\s\"']+"
# Token-free pages beside a request's secret: these words are kept, anything else in that place is a secret.
_KEEP = r"(?:withdraw|answer)(?=[/?#\s\"']|$)"

_PATTERNS: tuple[re.Pattern[str], ...] = (
    # /rights/verify/<token>/, /rights/package/<token>/
    re.compile(r"(/rights/(?:verify|package)/)" + _SEGMENT),
    # /rights/requests/<ref>/<token>/... (the reference is not a secret: it is in every email's subject)
    re.compile(r"(/rights/requests/" + _SEGMENT + "/)(?!" + _KEEP + ")" + _SEGMENT),
    # /org/invitations/accept/<token>/
    re.compile(r"(/invitations/accept/)" + _SEGMENT),
    # allauth: /accounts/confirm-email/<key>/, /accounts/password/reset/key/<uidb36>-<key>/
    re.compile(r"(/accounts/confirm-email/)" + _SEGMENT),
    re.compile(r"(/accounts/password/reset/key/)(?!done(?=[/?#\s\"']|$))" + _SEGMENT),
    # A secret in a query string: ?token=..., &key=..., uid, code, signature
    re.compile(r"([?&](?:token|key|uid|uidb36|code|signature|sig)=)[^&#\s\"']*", re.IGNORECASE),
)

_ENCODED_SLASH = re.compile(r"%2f", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with every secret path segment or query value replaced by ``[redacted]``."""
    if not isinstance(text, str) or not text:
        return text
    # An encoded slash ("/rights%2Fverify%2F<token>") must not hide a secret from the patterns.
    probe = _ENCODED_SLASH.sub("/", text)
    for pattern in _PATTERNS:
        probe = pattern.sub(lambda m: m.group(1) + REDACTED, probe)
    return probe if probe != _ENCODED_SLASH.sub("/", text) else text


class RedactSecretsFilter(logging.Filter):
    """Rewrite each record's message (and its request line) without secrets; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is logged as it is, not lost
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        if record.exc_info and record.exc_text is None:
            formatter = logging.Formatter()
            record.exc_text = redact(formatter.formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


try:
    from gunicorn.glogging import Logger as _GunicornLogger
except ImportError:  # gunicorn is only installed where `make serve` runs
    _GunicornLogger = object  # type: ignore[assignment,misc]


class RedactingGunicornLogger(_GunicornLogger):  # type: ignore[misc,valid-type]
    """gunicorn's logger with every access-log atom (request line, path, query, referer) redacted."""

    def atoms(
        self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any
    ) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        return {
            key: redact(value) if isinstance(value, str) else value for key, value in atoms.items()
        }
