"""Importing settings, ``manage.py check`` and mypy's Django plugin start no server (issue 19)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config import devservices

BASE_DIR = Path(__file__).resolve().parents[2]


def _bare_env(data_dir: Path) -> dict[str, str]:
    """A development environment without URLs, its embedded services' data in ``data_dir``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "PYTEST_XDIST_WORKER")
    }
    env["DEV_DATA_DIR"] = str(data_dir)
    return env


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "-c", "import django; django.setup()"],
        [sys.executable, "manage.py", "check"],
        [sys.executable, "manage.py", "makemigrations", "--check", "--dry-run"],
    ],
    ids=["import-settings", "manage-check", "makemigrations-check"],
)
def test_settings_start_no_server(tmp_path, command):
    """Tried: django.setup(), `manage.py check` and `makemigrations --check` with no DATABASE_URL /
    REDIS_URL and a fresh data folder: they succeed and leave no PostgreSQL or Redis behind."""
    env = {**_bare_env(tmp_path), "DJANGO_SETTINGS_MODULE": "config.settings"}
    result = subprocess.run(
        command, cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert not (tmp_path / "postgres").exists(), "settings initialised a PostgreSQL"
    assert not (tmp_path / "redis").exists(), "settings started a Redis"


def test_ensure_environment_refuses_in_production(monkeypatch):
    """Tried: DJANGO_DEBUG=false with no DATABASE_URL: a clear refusal, no server started."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("DJANGO_DEBUG", "false")
    with pytest.raises(RuntimeError, match="DATABASE_URL must be set in production mode"):
        devservices.ensure_environment()


def test_ensure_environment_keeps_given_urls(monkeypatch):
    """Tried: both URLs set (to addresses where nothing listens): they are kept as they are and
    nothing is started, whatever the mode."""
    monkeypatch.setenv("DATABASE_URL", "postgres://u@db.invalid/x")
    monkeypatch.setenv("REDIS_URL", "redis://redis.invalid:6379/0")
    devservices.ensure_environment()
    assert os.environ["DATABASE_URL"] == "postgres://u@db.invalid/x"
    assert os.environ["REDIS_URL"] == "redis://redis.invalid:6379/0"
