"""Load bench: analysts searching over the API and members of the public filing requests, at once.

Runs headless with locust (as a library) against a running server (``make run``):

- ``--analysts`` (20) analysts each POST a search with a photo from ``../shared/faces/images``,
  poll it until ``done`` or ``failed`` (choosing the first face when asked), think, and repeat;
- ``--public`` (5) members of the public open ``/rights/``, open the access-request form, and
  POST it with a unique email address and the form's CSRF token.

After ``--duration`` seconds nobody starts anything new; searches already accepted are polled for
up to ``--settle`` more seconds. A search that has not reached ``done``/``failed`` by then is
**lost**, and so is a public request that was answered "received" but has no row in the database.

It prints a table per endpoint (requests, failures, req/s, p50, p95) with totals, the searches
completed/lost, the public requests filed/lost, and a final JSON line. It exits 1 on any failed
request or lost work.

Setup (a separate process with the project's settings, so the same database as ``make run`` in
this checkout): an organisation "Load bench", analyst accounts (no MFA: analysts do not need it)
with fresh API tokens, and indexed photos (``import_images`` of ``../shared/faces``) if the index
holds fewer than ``--min-faces`` faces.

The per-organisation search rate limit and the per-address public-request limit would turn this
load into 429s, so start the server with them raised (the bench says so in its output)::

    SEARCH_RATE_LIMIT_PER_MINUTE=100000 SUBJECT_REQUESTS_PER_IP_PER_HOUR=100000 RUN_PORT=8150 make run
    .venv/bin/python bench/load.py --host http://127.0.0.1:8150 --duration 60

The default is the full five minutes (``--duration 300``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

from load_setup import (
    FINAL_SEARCH_STATES,
    PUBLIC_EMAIL_DOMAIN,
    RATE_LIMIT_SETTINGS,
    phase,
    phase_setup,
    phase_verify,
)

# --- The load --------------------------------------------------------------------------------
from load_support import (
    PublicRecord,
    SearchRecord,
    State,
    _one_connection_per_request,
    _percentile,
    _photos,
    _round,
    _row,
    _server_up,
    _why,
    _write_json,
)


def phase_run(args: argparse.Namespace) -> int:
    _server_up(args.host.rstrip("/"))
    print(
        f"Setting up {args.analysts} analysts in {args.orgs} organisation(s) and the photo index…",
        flush=True,
    )
    setup = phase("setup", args)
    print(
        f"Setup done: {len(setup['tokens'])} API tokens, {setup['faces']} indexed faces.",
        flush=True,
    )

    # locust monkey-patches the standard library with gevent on import: only now.
    import gevent
    from locust import HttpUser, between, task
    from locust.env import Environment
    from locust.exception import StopUser
    from locust.log import setup_logging

    setup_logging("WARNING")
    state = State(tokens=list(setup["tokens"]), photos=_photos(), poll=args.poll)
    host = args.host.rstrip("/")

    class Analyst(HttpUser):
        fixed_count = args.analysts
        wait_time = between(args.analyst_think / 2, args.analyst_think * 1.5)
        connection_timeout = 10.0
        network_timeout = 120.0

        def on_start(self) -> None:
            self.token = state.tokens.pop()
            self.client.headers["Authorization"] = f"Token {self.token}"
            if not args.keepalive:
                _one_connection_per_request(self.client)

        def _poll(self, record: SearchRecord) -> None:
            while time.monotonic() < state.settle_deadline:
                time.sleep(state.poll)
                with self.client.get(
                    f"/api/v1/searches/{record.id}/",
                    name="GET /api/v1/searches/[id]/",
                    catch_response=True,
                ) as resp:
                    state.statuses[resp.status_code] += 1
                    if resp.status_code != 200:
                        resp.failure(_why(resp))
                        continue
                    body = resp.json()
                if (
                    body["status"] == "choose_face"
                ):  # several faces: take the first (again, if that failed)
                    with self.client.post(
                        f"/api/v1/searches/{record.id}/choose/",
                        data={"face": 0},
                        name="POST /api/v1/searches/[id]/choose/",
                        catch_response=True,
                    ) as resp:
                        state.statuses[resp.status_code] += 1
                        if resp.status_code != 200:
                            resp.failure(_why(resp))
                        else:
                            record.chose_face = True
                    continue
                if body["status"] in FINAL_SEARCH_STATES:
                    record.status, record.error, record.hits = (
                        body["status"],
                        body["error"],
                        len(body["hits"]),
                    )
                    record.finished = time.monotonic()
                    return
                record.status = body["status"]

        @task
        def search(self) -> None:
            if state.draining:
                raise StopUser()
            name, data = random.choice(state.photos)
            with self.client.post(
                "/api/v1/searches/",
                files={"image": (name, data, "application/octet-stream")},
                data={
                    "purpose": "Load bench: find where this person's photo appears",
                    "lawful_basis": "legitimate_interests",
                    "case_reference": f"LOAD-{state.run_id}",
                },
                name="POST /api/v1/searches/",
                catch_response=True,
            ) as resp:
                state.statuses[resp.status_code] += 1
                if resp.status_code != 202:
                    state.search_refused[resp.status_code] += 1
                    resp.failure(_why(resp))
                    return
                record = SearchRecord(
                    id=resp.json()["id"], token=self.token, submitted=time.monotonic(), photo=name
                )
            state.searches[record.id] = record
            self._poll(record)

    class MemberOfPublic(HttpUser):
        fixed_count = args.public
        wait_time = between(args.public_think / 2, args.public_think * 1.5)
        connection_timeout = 10.0
        network_timeout = 120.0

        def on_start(self) -> None:
            if not args.keepalive:
                _one_connection_per_request(self.client)

        @task
        def file_access_request(self) -> None:
            if state.draining:
                raise StopUser()
            self.client.cookies.clear()  # a new visitor each time
            csrf = None
            for path in ("/rights/", "/rights/request/access/"):
                with self.client.get(path, name=f"GET {path}", catch_response=True) as resp:
                    state.statuses[resp.status_code] += 1
                    if resp.status_code != 200:
                        resp.failure(_why(resp))
                        return
                    csrf = self.client.cookies.get("csrftoken")
                    if path.endswith("access/") and not csrf:
                        resp.failure("the form set no CSRF cookie")
                        return
            record = PublicRecord(
                email=f"load-{state.run_id}-{uuid.uuid4().hex[:12]}@{PUBLIC_EMAIL_DOMAIN}"
            )
            state.public.append(record)
            with self.client.post(
                "/rights/request/access/",
                data={
                    "csrfmiddlewaretoken": csrf,
                    "email": record.email,
                    "details": "Load bench request",
                    "urls": "",
                    "website": "",
                },
                headers={"Referer": f"{host}/rights/request/access/"},
                name="POST /rights/request/access/",
                catch_response=True,
            ) as resp:
                state.statuses[resp.status_code] += 1
                if resp.status_code == 200 and "We received your request" in resp.text:
                    record.outcome = "filed"
                else:
                    record.outcome = (
                        f"refused:{resp.status_code}" if resp.status_code else "no_answer"
                    )
                    resp.failure(_why(resp))

    env = Environment(user_classes=[Analyst, MemberOfPublic], host=host)
    runner = env.create_local_runner()
    limits = (
        f"analysts share {args.orgs} organisation(s); run the server with "
        + " and ".join(f"{name} raised" for name in RATE_LIMIT_SETTINGS)
        + " (429 answers count as failures)"
    )
    print(f"Rate limits: {limits}.", flush=True)
    print(
        f"Load: {args.analysts} analysts + {args.public} members of the public against {host} for {args.duration:.0f} s "
        f"({args.spawn_rate:g} users started a second)…"
    )
    started = time.monotonic()
    runner.start(args.analysts + args.public, spawn_rate=args.spawn_rate)

    def progress() -> None:
        total = env.stats.total
        done = sum(1 for r in state.searches.values() if r.status in FINAL_SEARCH_STATES)
        filed = sum(1 for r in state.public if r.outcome == "filed")
        print(
            f"  {time.monotonic() - started:6.0f} s  users {runner.user_count:3d}  requests {total.num_requests:6d}  "
            f"failures {total.num_failures:4d}  searches {done}/{len(state.searches)} final  public filed {filed}",
            flush=True,
        )

    while time.monotonic() - started < args.duration:
        gevent.sleep(min(15.0, max(0.1, args.duration - (time.monotonic() - started))))
        progress()
    load_seconds = time.monotonic() - started
    state.draining = True
    state.settle_deadline = time.monotonic() + args.settle
    print(
        f"Stopping new work; waiting up to {args.settle:.0f} s for accepted searches to finish…",
        flush=True,
    )
    while runner.user_count > 0 and time.monotonic() < state.settle_deadline + 30:
        gevent.sleep(1.0)
    progress()
    runner.quit()
    wall_seconds = time.monotonic() - started

    verify = phase("verify", args, "--emails", _write_json([r.email for r in state.public]))
    found = set(verify["found"])

    # --- Report ---
    rows = []
    for entry in sorted(env.stats.entries.values(), key=lambda e: e.name):
        rows.append(_row(entry.name, entry, load_seconds))
    total = _row("Total", env.stats.total, load_seconds)
    print()
    header = f"{'Endpoint':<38} {'requests':>9} {'failures':>9} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}"
    print(header)
    print("-" * len(header))
    for row in [*rows, total]:
        if row is total:
            print("-" * len(header))
        print(
            f"{row['endpoint']:<38} {row['requests']:>9} {row['failures']:>9} {row['rps']:>7.2f} "
            f"{row['p50_ms']:>8} {row['p95_ms']:>8} {row['max_ms']:>8}"
        )
    errors = env.stats.errors.values()
    if errors:
        print("\nFailures:")
        for err in sorted(errors, key=lambda e: -e.occurrences):
            print(f"  {err.occurrences:5d} x {err.method} {err.name}: {str(err.error)[:300]}")

    records = list(state.searches.values())
    final = [r for r in records if r.status in FINAL_SEARCH_STATES]
    lost = [r for r in records if r.status not in FINAL_SEARCH_STATES]
    e2e = sorted((r.finished or 0) - r.submitted for r in final)
    fail_reasons = Counter(r.error[:80] for r in final if r.status == "failed")
    searches = {
        "accepted": len(records),
        "done": sum(1 for r in final if r.status == "done"),
        "failed": sum(1 for r in final if r.status == "failed"),
        "failed_reasons": dict(fail_reasons),
        "chose_face": sum(1 for r in records if r.chose_face),
        "lost": len(lost),
        "lost_ids": sorted(r.id for r in lost)[:50],
        "refused": {str(k): v for k, v in sorted(state.search_refused.items())},
        "completed_per_min": round(len(final) / (load_seconds / 60), 2) if load_seconds else 0.0,
        "end_to_end_p50_s": _round(_percentile(e2e, 50)),
        "end_to_end_p95_s": _round(_percentile(e2e, 95)),
    }
    answered = [r for r in state.public if r.outcome == "filed"]
    public = {
        "attempted": len(state.public),
        "filed": len(answered),
        "refused": dict(
            Counter(r.outcome for r in state.public if r.outcome.startswith("refused"))
        ),
        "unanswered": sum(1 for r in state.public if r.outcome == "posting"),
        "no_answer": sum(1 for r in state.public if r.outcome == "no_answer"),
        "no_answer_but_filed": sum(
            1 for r in state.public if r.outcome == "no_answer" and r.email in found
        ),
        "lost": sum(1 for r in answered if r.email not in found),
        "rows_found": len(found),
    }
    server_errors = sum(v for k, v in state.statuses.items() if k >= 500 or k == 0)
    print(
        f"\nSearches: {searches['accepted']} accepted, {searches['done']} done, {searches['failed']} failed"
        f"{' ' + str(dict(fail_reasons)) if fail_reasons else ''}, "
        f"{searches['lost']} lost (not final {args.settle:.0f} s after the run), "
        f"{sum(state.search_refused.values())} refused; end to end p50 {searches['end_to_end_p50_s']} s, "
        f"p95 {searches['end_to_end_p95_s']} s; {searches['completed_per_min']} completed a minute."
    )
    print(
        f"Public requests: {public['attempted']} posted, {public['filed']} filed, {public['lost']} lost "
        f"(answered but no row), {sum(public['refused'].values())} refused, {public['no_answer']} without an answer "
        f"({public['no_answer_but_filed']} of them filed all the same), {public['unanswered']} unfinished."
    )
    print(
        f"Status codes: {dict(sorted(state.statuses.items()))}; 5xx or no answer: {server_errors}."
    )
    print(f"Rate limits: {limits}.")
    ok = (
        total["failures"] == 0
        and searches["lost"] == 0
        and public["lost"] == 0
        and public["unanswered"] == 0
    )
    summary = {
        "bench": "load",
        "host": host,
        "duration_s": round(load_seconds, 1),
        "wall_s": round(wall_seconds, 1),
        "analysts": args.analysts,
        "public": args.public,
        "organisations": args.orgs,
        "spawn_rate": args.spawn_rate,
        "keepalive": args.keepalive,
        "indexed_faces": setup["faces"],
        "total": total,
        "endpoints": rows,
        "searches": searches,
        "public_requests": public,
        "status_codes": {str(k): v for k, v in sorted(state.statuses.items())},
        "server_errors": server_errors,
        "rate_limits": limits,
        "ok": ok,
    }
    print(json.dumps(summary))
    return 0 if ok else 1


def main() -> int:
    default_port = os.environ.get("RUN_PORT", "8000")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--host", default=f"http://127.0.0.1:{default_port}", help="base URL of the running server"
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=300.0,
        help="seconds of load (default 300; 60 for a quick run)",
    )
    parser.add_argument("--analysts", type=int, default=20)
    parser.add_argument(
        "--public", type=int, default=5, help="members of the public filing access requests"
    )
    parser.add_argument(
        "--orgs", type=int, default=1, help="spread the analysts over this many organisations"
    )
    parser.add_argument(
        "--spawn-rate",
        type=float,
        default=5.0,
        help="users started per second (default 5; `make run`'s development server queues only 10 new connections)",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=180.0,
        help="seconds after the run for accepted searches to finish",
    )
    parser.add_argument("--poll", type=float, default=1.0, help="seconds between polls of a search")
    parser.add_argument(
        "--analyst-think",
        type=float,
        default=2.0,
        help="mean pause between an analyst's searches (s)",
    )
    parser.add_argument(
        "--public-think",
        type=float,
        default=10.0,
        help="mean pause between a visitor's requests (s)",
    )
    parser.add_argument(
        "--no-keepalive",
        dest="keepalive",
        action="store_false",
        help="a new connection for every request (Connection: close)",
    )
    parser.add_argument(
        "--min-faces",
        type=int,
        default=20,
        help="import ../shared/faces when fewer faces are indexed",
    )
    parser.add_argument(
        "--phase", choices=["run", "setup", "verify"], default="run", help=argparse.SUPPRESS
    )
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--emails", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.analysts < 1 or args.public < 0 or not 1 <= args.orgs <= args.analysts:
        parser.error("need at least one analyst, and between 1 and --analysts organisations")
    if args.phase == "setup":
        return phase_setup(args)
    if args.phase == "verify":
        try:
            return phase_verify(args)
        finally:
            Path(args.emails).unlink(missing_ok=True)
    return phase_run(args)


if __name__ == "__main__":
    sys.exit(main())
