"""``make run``: services, migrations, first admin, then web + worker + beat in the foreground.

Ctrl-C stops every process this started, and the embedded services if this run started them.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from types import FrameType

HOST = os.environ.get("RUN_HOST", "127.0.0.1")


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


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    started_at = time.monotonic()
    django.setup()  # starts or reuses the embedded PostgreSQL and Redis when the URLs are unset
    from django.core.management import call_command

    from config import devservices

    call_command("migrate", interactive=False, verbosity=1)
    call_command("ensure_admin")

    port = _pick_port()
    python = sys.executable
    celery = [python, "-m", "celery", "-A", "config"]
    commands = {
        "web": [python, "manage.py", "runserver", f"{HOST}:{port}", "--noreload"],
        "worker": [
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
        ],
        "beat": [*celery, "beat", "-l", "INFO", "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler"],
    }
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    procs: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False

    def stop(signum: int | None = None, frame: FrameType | None = None) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        print("\nStopping web, worker and beat…", flush=True)
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for name, proc in procs.items():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"{name} did not stop in time; killing it.", flush=True)
                proc.kill()
                proc.wait()
        devservices.stop_started()
        print("Stopped.", flush=True)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for name, cmd in commands.items():
        procs[name] = subprocess.Popen(cmd, env=env)

    deadline = time.monotonic() + 60
    while _port_free(port) and time.monotonic() < deadline and not stopping:
        time.sleep(0.2)
    if not stopping:
        print(
            f"\n  Face search is running: open http://{HOST}:{port}/  (ready in {time.monotonic() - started_at:.1f} s)\n"
            f"  Admin: http://{HOST}:{port}/admin/  ·  Health: http://{HOST}:{port}/healthz\n"
            "  Press Ctrl-C to stop everything.\n",
            flush=True,
        )
    while not stopping:
        for name, proc in procs.items():
            if proc.poll() is not None and not stopping:
                print(f"{name} exited with status {proc.returncode}; stopping the rest.", flush=True)
                stop()
                return 1
        time.sleep(0.5)
    return 0


if __name__ == "__main__":
    try:
        code = main()
    except BaseException:
        # A failure after the services started (a migration error, say) must not leave them running.
        from config import devservices

        devservices.stop_started()
        raise
    sys.exit(code)
