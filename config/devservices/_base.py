"""Shared parts of the embedded development services: the data folder, the start/stop lock,
the record of what this process started, free ports and private files."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

BASE_DIR = Path(__file__).resolve().parents[2]
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


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


def _process_alive(pid: int) -> bool:
    """Running, and not a zombie (a daemon's exit is reaped by init, sometimes a second later)."""
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _port_free_loopback(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as redis-server binds it
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
