"""Health checks under an anonymous flood: what four threads calling a health endpoint cost a person opening /rights/.

One run, one server: gunicorn as ``make serve`` starts it (``gunicorn.conf.py``, 3 sync workers), on the development
services (embedded PostgreSQL and Redis, migrated first), with no Celery worker (a worker ping then waits its full
second, as it does when workers answer). Four phases of ``--duration`` seconds each; in each, one client opens
``/rights/`` in a loop while ``--threads`` others call:

- ``none``: nothing (the baseline);
- ``before``: the old check, called directly on every request (``config.health.readiness()``: database, Redis, a
  worker ping; served here at ``/bench/healthz-old``, this module being the server's URLconf);
- ``after /healthz``: liveness, answered from the process;
- ``after /healthz/ready``: readiness, kept ``HEALTH_READY_CACHE_SECONDS`` (10 s) per process (its rate limit
  raised for the bench, so that the cache, not 429s, is measured).

It prints, per phase, the requests/s and p95 of ``/rights/`` and the health calls answered per second, then a JSON
line::

    .venv/bin/python bench/health.py                 # 4 phases of 10 s
    .venv/bin/python bench/health.py --duration 20 --threads 4
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parents[1]

# --- the server side: this module is the URLconf of the bench's gunicorn ---------------------------------------

if os.environ.get("BENCH_HEALTH_SERVER") == "1":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.conf import settings
    from django.core.wsgi import get_wsgi_application

    settings.ROOT_URLCONF = "bench.health"
    application = get_wsgi_application()  # sets Django up: config.urls can be imported below

    from django.http import HttpRequest, JsonResponse
    from django.urls import include, path

    def old_healthz(request: HttpRequest) -> JsonResponse:
        """The check as it was: every check run on every call, no cache, no limit."""
        from config.health import readiness

        checks = readiness()
        return JsonResponse({"checks": checks}, status=200 if all(checks.values()) else 503)

    urlpatterns = [path("bench/healthz-old", old_healthz), path("", include("config.urls"))]


# --- the driver ----------------------------------------------------------------------------------------------------


def _get(url: str) -> tuple[int, float]:
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - our own server
            response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except OSError:
        status = 0
    return status, time.perf_counter() - started


def _phase(base: str, health_path: str | None, threads: int, duration: float) -> dict[str, Any]:
    stop = time.monotonic() + duration
    page_times: list[float] = []
    page_errors = 0
    health_calls = 0
    lock = threading.Lock()

    def hammer() -> None:
        nonlocal health_calls
        while time.monotonic() < stop:
            _get(base + str(health_path))
            with lock:
                health_calls += 1

    workers = [threading.Thread(target=hammer) for _ in range(threads if health_path else 0)]
    for w in workers:
        w.start()
    while time.monotonic() < stop:
        status, elapsed = _get(base + "/rights/")
        page_times.append(elapsed)
        page_errors += status != 200
    for w in workers:
        w.join()
    p95 = statistics.quantiles(page_times, n=20)[18] if len(page_times) >= 20 else max(page_times)
    return {
        "health": health_path or "none",
        "rights_requests": len(page_times),
        "rights_per_s": round(len(page_times) / duration, 1),
        "rights_p95_s": round(p95, 3),
        "rights_errors": page_errors,
        "health_calls_per_s": round(health_calls / duration, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per phase")
    parser.add_argument(
        "--threads", type=int, default=4, help="threads calling the health endpoint"
    )
    parser.add_argument(
        "--workers", type=int, default=3, help="gunicorn workers (make serve's WEB_CONCURRENCY)"
    )
    args = parser.parse_args()

    sys.path.insert(0, str(BASE_DIR))
    from config import devservices

    port = devservices.free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "PYTHONUNBUFFERED": "1"}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=BASE_DIR,
        env=env,
        check=True,
    )
    server_env = {**env, "BENCH_HEALTH_SERVER": "1", "HEALTH_READY_PER_MINUTE": "100000000"}
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    # This module, imported by gunicorn with BENCH_HEALTH_SERVER=1, is the application and its URLconf.
    command = [
        gunicorn,
        "bench.health:application",
        "--config",
        "gunicorn.conf.py",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(args.workers),
        "--access-logfile",
        "/dev/null",
    ]
    server = subprocess.Popen(
        command, cwd=BASE_DIR, env=server_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 120
        while _get(base + "/healthz")[0] != 200:
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the server did not start")
            time.sleep(0.5)
        _get(base + "/rights/")  # warm
        results = [
            _phase(base, None, args.threads, args.duration),
            _phase(base, "/bench/healthz-old", args.threads, args.duration),
            _phase(base, "/healthz", args.threads, args.duration),
            _phase(base, "/healthz/ready", args.threads, args.duration),
        ]
    finally:
        server.terminate()
        server.wait(timeout=30)
    labels = {
        "none": "none",
        "/bench/healthz-old": "before (old check)",
        "/healthz": "after /healthz",
        "/healthz/ready": "after /healthz/ready",
    }
    print(
        f"{args.threads} threads on the health endpoint, gunicorn {args.workers} workers, {args.duration:.0f} s a phase"
    )
    print(
        f"{'health calls':<22} {'/rights/ req/s':>15} {'/rights/ p95 s':>15} {'errors':>7} {'health calls/s':>15}"
    )
    for r in results:
        print(
            f"{labels[r['health']]:<22} {r['rights_per_s']:>15} {r['rights_p95_s']:>15} {r['rights_errors']:>7} "
            f"{r['health_calls_per_s']:>15}"
        )
    print(
        json.dumps(
            {
                "threads": args.threads,
                "workers": args.workers,
                "duration_s": args.duration,
                "phases": results,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
