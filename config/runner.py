"""``make run``: services, migrations, first admin, then web + worker + beat + audit sequencer, supervised.

``make run STORAGE=s3`` (or ``STORAGE=s3 make run``) also starts the embedded SeaweedFS and keeps
every file in its S3 bucket, as web servers and workers on separate machines would.

A child that dies (crash, OOM, ``kill -9``) is restarted after a back-off (1 s, doubling to
30 s; back to 1 s once it has stayed up for a minute), and the restart is logged. Only Ctrl-C
or SIGTERM stops everything: web and beat get SIGTERM, the worker a cold shutdown (SIGQUIT: it
hands tasks it has not finished back to Redis), stragglers SIGKILL after a few seconds, then
the embedded services if this run started them.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

HOST = os.environ.get("RUN_HOST", "127.0.0.1")
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 30.0
STABLE_AFTER_S = 60.0
# Ctrl-C: children get this long after SIGTERM/SIGQUIT before SIGKILL; the whole stop stays under 5 s.
STOP_GRACE_S = 2.5


def _say(message: str) -> None:
    print(f"[run {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _pick_port() -> int:
    port = int(os.environ.get("RUN_PORT", "8000"))
    for candidate in range(port, port + 50):
        if _port_free(candidate):
            return candidate
    raise SystemExit(f"No free port between {port} and {port + 49}; set RUN_PORT.")


def site_url_for(host: str, port: int) -> str:
    """The address people open; a wildcard bind is reached on loopback."""
    if host in ("0.0.0.0", "", "::"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


# The address this `make run` serves, for commands run from another shell (settings.SITE_URL reads
# it when SITE_URL is not set): there, links printed or emailed point at the port actually served.
RUN_STATE_FILE = "run.json"


def _run_state_path() -> Path:
    from config import devservices

    return devservices.data_dir() / RUN_STATE_FILE


def served_url_record(url: str) -> None:
    """Record the served address (and this runner's pid, so a runner killed hard leaves nothing valid)."""
    path = _run_state_path()
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"url": url, "pid": os.getpid()}))
    tmp.replace(path)


def served_url_clear() -> None:
    """Forget the served address (on exit), only if this process recorded it."""
    path = _run_state_path()
    with contextlib.suppress(FileNotFoundError, ValueError, OSError):
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def served_url() -> str | None:
    """The address a running `make run` serves, or None (none running, or it died without cleaning up)."""
    try:
        state = json.loads(_run_state_path().read_text())
    except (FileNotFoundError, ValueError, OSError):
        return None
    url, pid = (
        state.get("url") if isinstance(state, dict) else None,
        state.get("pid") if isinstance(state, dict) else None,
    )
    if (
        not isinstance(url, str)
        or not url.startswith(("http://", "https://"))
        or not isinstance(pid, int)
        or pid <= 0
    ):
        return None
    return url if _pid_alive(pid) else None


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM us if the runner dies (even by SIGKILL), Linux only."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


@dataclass
class Child:
    """One supervised process: its command, the live process and its restart back-off."""

    name: str
    cmd: list[str]
    stop_signal: int = signal.SIGTERM
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    backoff: float = BACKOFF_FIRST_S
    restart_at: float | None = None
    restarts: int = 0
    env: dict[str, str] = field(default_factory=dict)

    def start(self) -> None:
        # Its own process group: the terminal's Ctrl-C reaches only the runner, which then stops
        # the children in order; and a dead child's own children (Celery's pool) can be reaped.
        self.proc = subprocess.Popen(
            self.cmd, env=self.env, process_group=0, preexec_fn=_die_with_parent
        )
        self.started_at = time.monotonic()
        self.restart_at = None
        _say(f"started {self.name} (pid {self.proc.pid})")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill_group(self, sig: int) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)

    def check(self, now: float) -> None:
        """Notice a death and schedule the restart; start it when its back-off is over."""
        if self.proc is None:
            return
        if self.restart_at is None and self.proc.poll() is not None:
            up_for = now - self.started_at
            if up_for >= STABLE_AFTER_S:
                self.backoff = BACKOFF_FIRST_S
            self.kill_group(signal.SIGKILL)  # leftovers of the dead process (pool children)
            self.restart_at = now + self.backoff
            _say(
                f"{self.name} (pid {self.proc.pid}) exited with status {self.proc.returncode} after "
                f"{up_for:.1f} s; restarting it in {self.backoff:.0f} s"
            )
            self.backoff = min(self.backoff * 2, BACKOFF_MAX_S)
        elif self.restart_at is not None and now >= self.restart_at:
            self.restarts += 1
            self.start()
            _say(f"restarted {self.name} (restart #{self.restarts}, pid {self.proc.pid})")


def stop_children(children: list[Child], grace: float = STOP_GRACE_S) -> None:
    """Signal all at once, wait at most ``grace`` seconds, then SIGKILL what is left."""
    for child in children:
        if child.alive() and child.proc is not None:
            child.proc.send_signal(child.stop_signal)  # the main process: Celery stops its own pool
    deadline = time.monotonic() + grace
    for child in children:
        if child.proc is None:
            continue
        try:
            child.proc.wait(timeout=max(0.05, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _say(f"{child.name} did not stop within {grace:.1f} s; killing it")
        child.kill_group(signal.SIGKILL)  # stragglers, and the group's leftovers
        if child.proc.poll() is None:
            child.proc.wait()


def _media_description(env: dict[str, str]) -> str:
    """Where media goes, for the banner; with STORAGE=s3 the runner started (or found) the embedded
    SeaweedFS and put its STORAGE_URL into the environment the children inherit."""
    from django.conf import settings

    from config.storage import S3_BACKEND

    default = settings.STORAGES["default"]
    if default["BACKEND"] != S3_BACKEND:
        return f"local disk ({settings.MEDIA_ROOT})"
    options = default["OPTIONS"]
    where = f"S3 {options['endpoint_url'] or 'AWS'} bucket {options['bucket_name']}"
    if env.get("STORAGE_EMBEDDED") == "1":
        where += " (embedded SeaweedFS)"
    return where


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    port = _pick_port()
    # Links in emails point at the address actually served, unless set explicitly.
    if not os.environ.get("SITE_URL"):
        os.environ["SITE_URL"] = site_url_for(HOST, port)
    import django

    from config import devservices

    started_at = time.monotonic()
    # Settings only read the environment: the runner starts (or reuses) the embedded PostgreSQL,
    # Redis and, with STORAGE=s3, SeaweedFS for the URLs that are unset, and its children inherit them.
    devservices.ensure_environment()
    if (
        os.environ.get("STORAGE", "").lower() == "s3"
        and not os.environ.get("STORAGE_URL")
        and not os.environ.get("AWS_S3_ENDPOINT_URL")
        and not devservices.production_mode()
    ):
        os.environ["STORAGE_URL"] = devservices.ensure_seaweedfs()
        os.environ["STORAGE_EMBEDDED"] = "1"
    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=1)
    call_command("ensure_admin")
    from audit.roles import dev_app_role_env  # the app runs as a non-owner (docs/operations.md)

    os.environ.update(dev_app_role_env())

    python = sys.executable
    celery = [python, "-m", "celery", "-A", "config"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    media = _media_description(env)
    worker_cmd = [
        *celery,
        "worker",
        "-Q",
        "default,gpu,crawl",
        "-l",
        "INFO",
        "-n",
        "worker@%h",
        "--concurrency",
        os.environ.get("WORKER_CONCURRENCY", "2"),
    ]
    beat_cmd = [
        *celery,
        "beat",
        "-l",
        "INFO",
        "--scheduler",
        "django_celery_beat.schedulers:DatabaseScheduler",
    ]
    children = [
        # runserver starts a thread per connection; persistent connections would outlive the threads
        # and exhaust PostgreSQL's connection slots under load (Django advises against them there).
        Child(
            "web",
            [python, "manage.py", "runserver", f"{HOST}:{port}", "--noreload"],
            env={**env, "DATABASE_CONN_MAX_AGE": os.environ.get("DATABASE_CONN_MAX_AGE", "0")},
        ),
        # SIGQUIT = Celery's cold shutdown: running tasks are cancelled and, being acks_late and
        # unacknowledged, go back to the queue at once (a warm shutdown would wait for them).
        Child("worker", worker_cmd, stop_signal=signal.SIGQUIT, env=env),
        Child("beat", beat_cmd, env=env),
        # The transparency log's sequencer: numbers committed audit events, signs checkpoints.
        Child("sequencer", [python, "manage.py", "audit_sequencer"], env=env),
    ]
    stopping = False

    def request_stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    served_url_record(os.environ["SITE_URL"])
    for child in children:
        child.start()

    deadline = time.monotonic() + 60
    while _port_free(port) and time.monotonic() < deadline and not stopping:
        time.sleep(0.2)
    if not stopping:
        from django.conf import settings

        url = os.environ["SITE_URL"]
        mail = getattr(settings, "EMAIL_FILE_PATH", None) if "EMAIL_URL" not in os.environ else None
        print(
            f"\n  Face search is running: open {url}/  (ready in {time.monotonic() - started_at:.1f} s)\n"
            f"  Admin: {url}/admin/  ·  Health: {url}/healthz"
            + (f"  ·  Emails: {mail}/" if mail else "")
            + "\n"
            f"  Media: {media}\n"
            "  Press Ctrl-C to stop everything.\n",
            flush=True,
        )
    while not stopping:
        now = time.monotonic()
        for child in children:
            child.check(now)
        time.sleep(0.2)

    stop_began = time.monotonic()
    _say("stopping web, worker, beat and sequencer…")
    stop_children(children)
    served_url_clear()
    devservices.stop_started()
    _say(f"stopped in {time.monotonic() - stop_began:.1f} s")
    return 0


if __name__ == "__main__":
    try:
        code = main()
    except BaseException:
        # A failure after the services started (a migration error, say) must not leave them running.
        from config import devservices

        served_url_clear()
        devservices.stop_started()
        raise
    sys.exit(code)
