"""Real processes killed and restarted: the bundled Redis keeps queued tasks, the runner supervises.

Nothing here is mocked: redis-server daemons started with the project's own start function,
Celery messages published with kombu, and ``python -m config.runner`` as a subprocess whose
children are SIGKILLed.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import pytest
import redis
from celery import Celery
from redis.backoff import NoBackoff
from redis.retry import Retry

from config import devservices

BASE_DIR = Path(__file__).resolve().parents[2]


def _client(port: int, password: str | None = None) -> redis.Redis:
    """A client that reports a refused password at once (redis-py retries connection errors by default)."""
    return redis.Redis(port=port, password=password, retry=Retry(NoBackoff(), 0))


# --- Redis ----------------------------------------------------------------------------------


@pytest.fixture
def protected_redis(tmp_path) -> Iterator[tuple[Path, int, str]]:
    """A redis-server started exactly as the embedded one is (password, append-only file)."""
    directory = tmp_path / "redis"
    password = devservices.redis_password(directory)
    port = devservices.free_port()
    devservices.start_redis_daemon(directory, port, password=password)
    try:
        yield directory, port, password
    finally:
        devservices.stop_redis_daemon(directory, port)


def _pid(directory: Path) -> int:
    return int((directory / "redis.pid").read_text().strip())


def test_redis_requires_the_password_and_persists(protected_redis):
    """No password: refused. With it: append-only, fsync every second, snapshots (the 'save' arg was one string)."""
    directory, port, password = protected_redis
    with pytest.raises(redis.exceptions.AuthenticationError):
        _client(port).ping()
    with pytest.raises(redis.exceptions.AuthenticationError):
        _client(port, "wrong-password").ping()
    client = redis.Redis(port=port, password=password, decode_responses=True)
    assert client.config_get("appendonly") == {"appendonly": "yes"}
    assert client.config_get("appendfsync") == {"appendfsync": "everysec"}
    assert client.config_get("save") == {"save": "60 1"}
    assert client.config_get("bind")["bind"] == "127.0.0.1"
    assert oct((directory / "password").stat().st_mode & 0o777) == "0o600"
    assert oct((directory / "redis.conf").stat().st_mode & 0o777) == "0o600"
    assert password not in " ".join(
        psutil.Process(_pid(directory)).cmdline()
    )  # not visible in `ps`


@pytest.mark.parametrize(
    "how", ["sigkill", "sigterm"], ids=["redis-killed-9", "redis-stopped-cleanly"]
)
def test_queued_tasks_survive_a_redis_restart(protected_redis, how):
    """Six tasks queued and not consumed (no worker); Redis dies; after a restart all six are still queued."""
    directory, port, password = protected_redis
    url = devservices.redis_url(port, password)
    app = Celery("restart-probe", broker=url)
    app.conf.task_default_queue = "default"
    ids = [app.send_task("search.tasks.search_run", args=[n], queue="default").id for n in range(6)]
    client = redis.Redis(port=port, password=password)
    assert client.llen("default") == 6
    time.sleep(1.5)  # appendfsync everysec: a SIGKILL loses at most the last second
    if how == "sigkill":
        os.kill(_pid(directory), signal.SIGKILL)
        deadline = time.monotonic() + 5
        while devservices._port_answers(port, password) and time.monotonic() < deadline:
            time.sleep(0.05)
    else:
        devservices.stop_redis_daemon(directory, port)
    assert not devservices._port_answers(port, password)

    devservices.start_redis_daemon(directory, port, password=password)
    client = redis.Redis(port=port, password=password)
    assert client.llen("default") == 6
    with app.connection_for_read() as conn:
        queue = conn.SimpleQueue("default", no_ack=True)
        received = [queue.get(timeout=2).headers["id"] for _ in ids]
        queue.close()
    assert sorted(received) == sorted(ids)


def test_ctrl_c_hands_an_in_flight_task_back_to_the_queue(protected_redis, tmp_path):
    """The runner stops the worker with SIGQUIT (cold shutdown) mid-task: the task is not lost.

    acks_late: the message is unacknowledged while the task runs; the cold shutdown cancels it
    and puts the message back at the head of its queue, where the next worker takes it.
    """
    _directory, port, password = protected_redis
    url = devservices.redis_url(port, password)
    from django.conf import settings

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.test_settings",
        "DATABASE_URL": devservices.database_url(settings.DATABASES["default"]),
        "REDIS_URL": url,
        "PYTHONUNBUFFERED": "1",
    }
    cmd = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "tests.reliability.slow_tasks",
        "worker",
        "-Q",
        "slow",
        "-c",
        "1",
        "-n",
        f"slow-{port}@localhost",
        "-l",
        "INFO",
    ]
    marker = tmp_path / "marker"
    # config.test_settings: the broker on db 2 (4 + 2 N for pytest-xdist worker gwN, inherited)
    broker_db = int(urlsplit(settings.CELERY_BROKER_URL).path.strip("/"))
    app = Celery("slow-probe", broker=devservices.redis_url(port, password, db=broker_db))
    app.send_task("tests.reliability.sleep_then_mark", args=[6, str(marker)], queue="slow")
    db2 = redis.Redis(port=port, password=password, db=broker_db)
    assert db2.llen("slow") == 1
    log = tmp_path / "worker.log"
    with open(log, "w") as out:
        worker = subprocess.Popen(
            cmd, cwd=BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT, process_group=0
        )
    try:
        _wait_for(
            lambda: db2.llen("slow") == 0 and db2.hlen("unacked") == 1,
            60,
            "the worker to take the task",
        )
        _wait_for(lambda: Path(str(marker) + ".started").exists(), 60, "the task to start running")
        worker.send_signal(signal.SIGQUIT)  # what the runner sends on Ctrl-C
        worker.wait(timeout=10)
        assert not marker.exists()  # a cold shutdown, not a wait: it did not finish (6 s)...
        assert db2.llen("slow") == 1  # ...and it is queued again, not lost
        assert db2.hlen("unacked") == 0
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()


def test_ensure_redis_starts_with_a_generated_password(tmp_path, monkeypatch):
    """A fresh data folder: the embedded Redis gets a password (0600 file) and the URL carries it."""
    monkeypatch.setenv("DEV_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(
        devservices, "STARTED", devservices.Started()
    )  # leave the session's record alone
    url = devservices.ensure_redis()
    port = devservices._redis_state()["port"]
    try:
        password = (tmp_path / "redis" / "password").read_text().strip()
        assert url == f"redis://:{password}@127.0.0.1:{port}/0"
        assert len(password) >= 32
        assert redis.Redis.from_url(url).ping()
        with pytest.raises(redis.exceptions.AuthenticationError):
            _client(port).ping()
        assert devservices.ensure_redis() == url  # reused, same password
    finally:
        devservices.stop_redis()


def test_a_running_redis_without_password_is_secured_and_keeps_its_data(tmp_path, monkeypatch):
    """A Redis from before this change (no password, no append-only file) already holds queued tasks."""
    monkeypatch.setenv("DEV_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(
        devservices, "STARTED", devservices.Started()
    )  # leave the session's record alone
    directory = tmp_path / "redis"
    directory.mkdir()
    port = devservices.free_port()
    subprocess.run(
        [
            devservices.redis_server_binary(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--daemonize",
            "yes",
            "--dir",
            str(directory),
            "--pidfile",
            str(directory / "redis.pid"),
        ],
        check=True,
        cwd=tmp_path,
    )
    (directory / "state.json").write_text(f'{{"port": {port}}}')
    try:
        deadline = time.monotonic() + 10
        while not devservices._port_answers(port) and time.monotonic() < deadline:
            time.sleep(0.05)
        old = redis.Redis(port=port)
        old.rpush("default", "task-1", "task-2")

        url = devservices.ensure_redis()

        assert redis.Redis.from_url(url).lrange("default", 0, -1) == [b"task-1", b"task-2"]
        with pytest.raises(redis.exceptions.AuthenticationError):
            _client(port).ping()
        assert redis.Redis.from_url(url).config_get("appendonly") == {"appendonly": "yes"}
        # and it is durable from now on: kill -9, start as the project does, the tasks are there
        time.sleep(1.5)
        os.kill(_pid(directory), signal.SIGKILL)
        time.sleep(0.3)
        assert devservices.ensure_redis() == url
        assert redis.Redis.from_url(url).llen("default") == 2
    finally:
        devservices.stop_redis()


# --- The runner (make run) ----------------------------------------------------------------


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310 - loopback test server
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _pids(log: Path, name: str) -> list[int]:
    return [int(p) for p in re.findall(rf"started {name} \(pid (\d+)\)", log.read_text())]


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def _start_runner(tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path, int]:
    """``make run`` as a person starts it, on a free port, on the development services."""
    port = devservices.free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in ("DATABASE_URL", "REDIS_URL", "SITE_URL", "TEST_MEDIA_ROOT", "CELERY_BROKER_URL")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        RUN_PORT=str(port),
        DJANGO_ADMIN_PASSWORD="runner-test-admin-password-1",
        WORKER_CONCURRENCY="1",
    )
    log = tmp_path / "run.log"
    with open(log, "w") as out:
        runner = subprocess.Popen(
            [sys.executable, "-m", "config.runner"],
            cwd=BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return runner, log, port


@pytest.mark.serial  # the whole runner and its children: alone, after the parallel run
def test_runner_killed_hard_takes_its_children_with_it(tmp_path):
    """kill -9 of the runner itself (no chance to clean up): web, worker and beat still go."""
    runner, log, port = _start_runner(tmp_path)
    try:
        _wait_for(
            lambda: _get(f"http://127.0.0.1:{port}/healthz")[0] in (200, 503),
            180,
            "the web to answer",
        )
        _wait_for(
            lambda: all(_pids(log, n) for n in ("web", "worker", "beat")), 10, "all three children"
        )
        children = [_pids(log, n)[0] for n in ("web", "worker", "beat")]
        runner.kill()
        runner.wait()
        _wait_for(
            lambda: not any(_alive(pid) for pid in children),
            60,  # a worker killed while still booting finishes its boot first
            "the orphaned children to exit",
        )
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
        for name in ("web", "worker", "beat"):
            for pid in _pids(log, name):
                if _alive(pid):
                    os.killpg(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.serial  # the whole runner and its children: alone, after the parallel run
def test_runner_restarts_a_killed_worker_and_stops_everything_in_under_5_s(tmp_path):
    """kill -9 the worker (twice) and beat: each comes back, the web keeps answering; Ctrl-C stops all in < 5 s."""
    port = devservices.free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in ("DATABASE_URL", "REDIS_URL", "SITE_URL", "TEST_MEDIA_ROOT", "CELERY_BROKER_URL")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        RUN_PORT=str(port),
        DJANGO_ADMIN_PASSWORD="runner-test-admin-password-1",
        WORKER_CONCURRENCY="1",
    )
    log = tmp_path / "run.log"
    with open(log, "w") as out:
        runner = subprocess.Popen(
            [sys.executable, "-m", "config.runner"],
            cwd=BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    children: set[int] = set()
    try:
        _wait_for(
            lambda: '"worker": {"ok": true' in _get(f"{base}/healthz/ready")[1],
            180,
            "web and worker to be up",
        )
        web, worker, beat = _pids(log, "web")[0], _pids(log, "worker")[0], _pids(log, "beat")[0]
        children |= {web, worker, beat}

        # Emailed links point at the port actually served (was always :8000).
        assert _environ(web)["SITE_URL"] == base
        assert _environ(worker)["SITE_URL"] == base

        os.kill(worker, signal.SIGKILL)
        _wait_for(lambda: len(_pids(log, "worker")) == 2, 15, "the worker to be restarted")
        assert f"worker (pid {worker}) exited with status -9" in log.read_text()
        assert "restarting it in 1 s" in log.read_text()
        assert _get(f"{base}/healthz")[0] in (
            200,
            503,
        )  # the web still answers while the worker is away
        assert runner.poll() is None

        second = _pids(log, "worker")[1]
        children.add(second)
        os.kill(second, signal.SIGKILL)  # dies again at once: the back-off doubles
        _wait_for(lambda: len(_pids(log, "worker")) == 3, 15, "the worker to be restarted again")
        assert "restarting it in 2 s" in log.read_text()

        os.kill(beat, signal.SIGKILL)
        _wait_for(lambda: len(_pids(log, "beat")) == 2, 15, "beat to be restarted")
        children |= set(_pids(log, "worker")) | set(_pids(log, "beat"))
        _wait_for(
            lambda: '"worker": {"ok": true' in _get(f"{base}/healthz/ready")[1],
            90,
            "the new worker to answer",
        )
        assert _get(f"{base}/")[0] in (200, 302)

        groups = {pid: os.getpgid(pid) for pid in children if psutil.pid_exists(pid)}
        started = time.monotonic()
        runner.send_signal(signal.SIGINT)
        runner.wait(timeout=15)
        took = time.monotonic() - started
        print(f"Ctrl-C stopped web, worker and beat in {took:.2f} s")
        assert took < 5.0, f"Ctrl-C took {took:.1f} s"
        assert runner.returncode == 0

        def leftovers() -> list[int]:
            return [
                p.pid
                for p in psutil.process_iter(["pid", "status"])
                if p.info["status"] != psutil.STATUS_ZOMBIE
                and (p.pid in children or (p.info["pid"] and _pgid(p.pid) in set(groups.values())))
            ]

        # Everything is gone within 5 s of Ctrl-C: a pool child may still be exiting when the runner returns.
        while leftovers() and time.monotonic() - started < 5.0:
            time.sleep(0.1)
        assert leftovers() == [], f"still running 5 s after Ctrl-C: {leftovers()}"
        assert _get(f"{base}/healthz")[0] == 0
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
        for pid in children:
            if psutil.pid_exists(pid):
                with __import__("contextlib").suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def test_a_redis_refusing_the_stored_password_is_not_doubled(tmp_path, monkeypatch):
    """The password file was replaced while our Redis runs: refuse clearly, never start a second one on its data."""
    monkeypatch.setenv("DEV_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(devservices, "STARTED", devservices.Started())
    devservices.ensure_redis()
    try:
        (tmp_path / "redis" / "password").write_text("a-different-password\n")
        with pytest.raises(RuntimeError, match="refuses the password"):
            devservices.ensure_redis()
        redis_servers = [
            p for p in psutil.process_iter(["name", "cwd"]) if p.info["name"] == "redis-server"
        ]
        assert sum(1 for p in redis_servers if p.info["cwd"] == str(tmp_path / "redis")) == 1
    finally:
        devservices.stop_redis()
