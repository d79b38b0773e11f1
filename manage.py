#!/usr/bin/env python
"""Django's command-line utility.

An entry point, not settings: outside production, when DATABASE_URL or REDIS_URL is unset, it starts
(or reuses) the embedded PostgreSQL / Redis under .data/ and sets the URLs before Django configures
(config.devservices.ensure_environment). `check`, `makemigrations` and the other commands that need
no server start nothing. Settings themselves only read the environment.
"""

from __future__ import annotations

import os
import sys

# Commands that run without a database or Redis: they never start the embedded servers.
NO_SERVICES = {"", "help", "check", "makemigrations", "compilemessages", "version", "diffsettings"}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command not in NO_SERVICES:
        from config import devservices

        if not devservices.production_mode():
            devservices.ensure_environment()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
