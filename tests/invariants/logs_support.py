"""Shared by the logs and bad-input invariant modules: the real servers on loopback."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from django.conf import settings

from config import devservices

BASE_DIR = Path(__file__).resolve().parents[2]


# --- the real servers, as `make run` and `make serve` start them ----------------------------------


def _wait_until_up(base: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited: {log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"the server did not answer: {log.read_text()[-3000:]}")


def _serve_command(kind: str, port: int) -> list[str]:
    if kind == "runserver":  # as config/runner.py (make run) starts the web
        return [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]
    # make serve's gunicorn, with its access-log settings (gunicorn.conf.py), one worker
    serve = re.search(
        r"^serve:.*?\n((?:\t.*\n)+)", (BASE_DIR / "Makefile").read_text(), re.MULTILINE
    )
    assert serve and "--config gunicorn.conf.py" in serve.group(1), (
        "make serve must use gunicorn.conf.py"
    )
    assert "--access-logformat" not in serve.group(1) and "--access-logfile" not in serve.group(1)
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    return [
        gunicorn,
        "config.wsgi:application",
        "--config",
        "gunicorn.conf.py",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "1",
    ]


@contextmanager
def _server(kind: str, tmp_path: Path) -> Iterator[tuple[str, Path, Path]]:
    """The real server on the test database; yields its base URL, its captured output and its mail folder."""
    port = devservices.free_port()
    base = f"http://127.0.0.1:{port}"
    mail_dir = tmp_path / "mail"
    env = {k: v for k, v in os.environ.items() if k not in ("EMAIL_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",  # the settings `make run` and `make serve` use
        DATABASE_URL=devservices.database_url(settings.DATABASES["default"]),
        REDIS_URL=settings.REDIS_URL,
        SITE_URL=base,
        EMAIL_FILE_PATH=str(mail_dir),
        PYTHONUNBUFFERED="1",
    )
    log = tmp_path / f"{kind}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            _serve_command(kind, port), cwd=BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        _wait_until_up(base, proc, log)
        yield base, log, mail_dir
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
