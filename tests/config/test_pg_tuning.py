"""The embedded PostgreSQL is tuned for the HNSW index: sizes follow the machine, overrides are checked."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connection

from config import devservices

GB = 2**30


def test_sizes_follow_ram_with_caps():
    small = devservices.postgres_tuning(ram_bytes=4 * GB, cpus=2, environ={})
    assert small["shared_buffers"] == "1024MB"  # a quarter of RAM
    assert small["maintenance_work_mem"] == "512MB"  # an eighth
    assert small["effective_cache_size"] == "2048MB"
    assert small["max_parallel_maintenance_workers"] == "1"  # one core left for the leader
    big = devservices.postgres_tuning(ram_bytes=256 * GB, cpus=64, environ={})
    assert big["shared_buffers"] == "2048MB"  # capped on a development box
    assert big["maintenance_work_mem"] == "2048MB"
    assert big["max_parallel_maintenance_workers"] == "4"


def test_tiny_machine_keeps_postgres_minimums():
    """Bad input: a machine reporting almost no memory still gets workable sizes."""
    tiny = devservices.postgres_tuning(ram_bytes=100 * 2**20, cpus=1, environ={})
    assert tiny["shared_buffers"] == "128MB"
    assert tiny["maintenance_work_mem"] == "64MB"
    assert tiny["max_parallel_maintenance_workers"] == "1"


def test_override_applies():
    tuned = devservices.postgres_tuning(
        ram_bytes=8 * GB,
        cpus=2,
        environ={"DEV_PG_SHARED_BUFFERS": "3GB", "DEV_PG_MAX_PARALLEL_MAINTENANCE_WORKERS": "0"},
    )
    assert tuned["shared_buffers"] == "3GB"
    assert tuned["max_parallel_maintenance_workers"] == "0"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DEV_PG_SHARED_BUFFERS", "lots"),  # no number
        ("DEV_PG_SHARED_BUFFERS", "2048"),  # no unit: PostgreSQL would read 8 kB pages
        ("DEV_PG_WORK_MEM", "0MB"),  # zero
        ("DEV_PG_MAINTENANCE_WORK_MEM", "1GB; shared_preload_libraries='x'"),  # an injected setting
        ("DEV_PG_MAX_PARALLEL_MAINTENANCE_WORKERS", "-1"),  # negative
    ],
)
def test_bad_override_is_refused_with_the_variable_named(variable, value):
    with pytest.raises(ValueError, match=variable):
        devservices.postgres_tuning(ram_bytes=8 * GB, cpus=2, environ={variable: value})


def test_config_file_rewrite_is_idempotent_and_keeps_socket_only(tmp_path: Path):
    conf = tmp_path / "postgresql.conf"
    conf.write_text(
        "max_connections = 100\nshared_buffers = 128MB\t\t\t# min 128kB\n#work_mem = 4MB\nlisten_addresses = ''\n"
    )
    tuning = devservices.postgres_tuning(ram_bytes=4 * GB, cpus=2, environ={})
    assert devservices.tune_postgres_config(tmp_path, tuning) is True
    text = conf.read_text()
    assert "shared_buffers = 128MB" not in text  # the initdb default is replaced, not shadowed
    assert "shared_buffers = '1024MB'" in text
    assert "max_connections = 100" in text and "#work_mem = 4MB" in text
    assert text.rstrip().endswith(devservices.LISTEN_NOWHERE)
    assert devservices.harden_postgres_config(tmp_path) is False  # still socket-only as it stands
    assert devservices.tune_postgres_config(tmp_path, tuning) is False  # nothing to change twice
    smaller = {**tuning, "shared_buffers": "512MB"}
    assert devservices.tune_postgres_config(tmp_path, smaller) is True
    assert conf.read_text().count("shared_buffers =") == 1


@pytest.mark.django_db
def test_running_server_uses_the_tuned_values():
    """The real embedded server: settings that need no restart match the machine's tuning."""
    tuning = devservices._machine_tuning()
    with connection.cursor() as cursor:
        for name in ("maintenance_work_mem", "max_parallel_maintenance_workers", "work_mem"):
            cursor.execute("SELECT setting, unit FROM pg_settings WHERE name = %s", [name])
            setting, unit = cursor.fetchone()
            expected = tuning[name]
            if unit == "kB":
                assert int(setting) * 1024 == int(expected.removesuffix("MB")) * 2**20, name
            else:
                assert setting == expected, name
