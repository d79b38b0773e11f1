"""The embedded services are reused, not started twice, and the URLs in use point at them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from config import devservices

BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_pgvector_extension_is_installed():
    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        row = cursor.fetchone()
        assert row is not None
        cursor.execute("SELECT '[1,2,3]'::vector <-> '[1,2,4]'::vector")
        assert cursor.fetchone()[0] == pytest.approx(1.0)


def test_second_process_reuses_running_services():
    """A manage.py command run while the services are up reuses them and starts nothing."""
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='config.settings'; django.setup();"
        "from config import devservices as d; print(d.STARTED.postgres, d.STARTED.redis)"
    )
    env_clean = {
        k: v for k, v in __import__("os").environ.items() if k not in ("DATABASE_URL", "REDIS_URL")
    }
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env=env_clean,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False False"


def test_database_url_round_trips_a_socket_directory():
    import environ

    url = devservices.database_url(
        {"USER": "postgres", "HOST": "/tmp/some dir/pg", "PORT": "5432", "NAME": "db"}
    )
    parsed = environ.Env.db_url_config(url)
    assert parsed["NAME"] == "db"
    assert parsed["USER"] == "postgres"
    assert parsed["PORT"] == 5432
    from urllib.parse import unquote

    assert unquote(parsed["HOST"]) == "/tmp/some dir/pg"
