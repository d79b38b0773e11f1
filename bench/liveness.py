"""Live capture checks (search/liveness/) on synthetic captures: APCER per attack, BPCER, time.

Data: the people of ../shared/faces/identities.csv with at least two photos that give a synthetic
webcam scene (one face in a 640x480 window around it; tests/search/liveness_frames.py builds the
scenes and says what a synthetic capture stands for). Every capture gets its own random challenge
(2-3 poses) and a fresh nonce; a seeded ``random.Random`` makes a run repeatable.

- genuine: ``--genuine`` captures per person, cycling over their photos; each is one photo with the
  head warped through the asked poses over the photo's own background, with camera noise; half of
  them hold each pose for two frames.
- attacks, ``--attacks`` of each kind per person:
  - ``still``: one photo of the person shown for every frame (fresh camera noise each frame);
  - ``photos``: 4-6 different photos of the person, one per frame (their own backgrounds);
  - ``two_people``: the person and someone else alternating in the person's scene (a face swap),
    posing as asked;
  - ``stale``: a genuine capture sent after its challenge expired, and ``reused``: a genuine
    capture sent again with a nonce already used (no face work: the nonce and the clock decide).

APCER (attack presentations wrongly accepted) is the share of attack captures that pass; BPCER
(genuine captures wrongly refused) the share of genuine captures that fail, with the flags that
refused them. No reference embeddings are given (the reference check is not required), so these
figures are about liveness, not about matching the request's faces. Printed: counts, rates with
Wilson 95 % intervals, the refusing flags, and seconds per capture (decode + analysis + checks, one
process; the machine's load average is printed beside it). ``--json`` prints one JSON object.

What these figures cannot tell about real cameras: real head turns (occlusion, hair and shoulders
moving, 3D shape), real lighting and auto-exposure, motion blur, people who turn little or too far;
and attacks that are not synthesised here at all: a screen or print held to a real camera in one
room (constant background: only the pose and motion checks stand against a video replay or a
photo moved by hand), masks, deepfakes driven to follow the challenge, and frames injected by a
virtual camera or a modified browser. A figure of 0 attacks accepted out of N is a statement about
these synthetic attacks only.

    .venv/bin/python bench/liveness.py [--genuine 4] [--attacks 2] [--seed 20261207] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections import Counter
from pathlib import Path
from random import Random

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--genuine", type=int, default=4, help="genuine captures per person")
    parser.add_argument(
        "--attacks", type=int, default=2, help="captures of each attack kind per person"
    )
    parser.add_argument("--seed", type=int, default=20261207)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import django

    from config.devservices import ensure_environment

    ensure_environment()  # settings start nothing: like manage.py, the bench starts the servers
    django.setup()
    from search import engine, liveness
    from tests.search import liveness_frames as lf

    rng = Random(args.seed)
    store = liveness.memory_nonce_store()
    engine.warm_up()
    started = time.perf_counter()
    people = lf.usable_people(min_photos=2)
    scenes_seconds = time.perf_counter() - started
    names = sorted(people)

    outcomes: dict[str, list[tuple[bool, list[str], float]]] = {}

    def run(
        kind: str, frames: list[bytes], challenge: liveness.Challenge, **kwargs: object
    ) -> liveness.CaptureReport:
        kwargs.setdefault("now", challenge.issued_at + rng.uniform(10, 60))
        report = liveness.capture_check(
            challenge=challenge, frames=frames, nonce_store=store, **kwargs
        )
        outcomes.setdefault(kind, []).append((report.passed, report.flags, report.elapsed_seconds))
        return report

    for person in names:
        photos = people[person]
        for i in range(args.genuine):
            challenge = liveness.challenge_new(rng=rng)
            frames = lf.genuine(photos[i % len(photos)], challenge.steps, rng)
            run("genuine", frames, challenge)
            if i < args.attacks:
                # The same genuine frames, too late, then again with the nonce already used.
                late = liveness.challenge_new(rng=rng, now=time.time() - 3600)
                run("stale", frames, late, now=time.time())
                run("reused", frames, challenge, now=challenge.issued_at + 30)
        for i in range(args.attacks):
            challenge = liveness.challenge_new(rng=rng)
            run(
                "still",
                lf.replayed_still(photos[i % len(photos)], rng.randint(4, 8), rng),
                challenge,
            )
            chosen = rng.sample(photos, k=min(len(photos), rng.randint(4, 6)))
            while len(chosen) < liveness.MIN_FRAMES:  # a person with 2-3 photos: some come back
                chosen.append(rng.choice(photos))
            rng.shuffle(chosen)
            run("photos", lf.different_photos(chosen, rng), liveness.challenge_new(rng=rng))
            other = rng.choice([n for n in names if n != person])
            challenge = liveness.challenge_new(rng=rng)
            frames = lf.two_people(
                photos[i % len(photos)], rng.choice(people[other]), challenge.steps, rng
            )
            run("two_people", frames, challenge)

    load = os.getloadavg()[0]
    rows = []
    for kind in ("genuine", "still", "photos", "two_people", "stale", "reused"):
        results = outcomes.get(kind, [])
        n = len(results)
        if kind == "genuine":
            wrong = sum(not passed for passed, _, _ in results)
            flags = Counter(f for passed, fl, _ in results if not passed for f in fl)
        else:
            wrong = sum(passed for passed, _, _ in results)
            flags = Counter(f for passed, fl, _ in results for f in fl)
        low, high = wilson(wrong, n)
        times = sorted(t for _, _, t in results)
        rows.append(
            {
                "kind": kind,
                "metric": "BPCER" if kind == "genuine" else "APCER",
                "captures": n,
                "wrong": wrong,
                "rate": round(wrong / n, 4) if n else None,
                "ci95": [round(low, 4), round(high, 4)],
                "flags": dict(flags.most_common()),
                "seconds_median": round(times[n // 2], 3) if n else None,
            }
        )
    summary = {
        "data": {
            "people": len(names),
            "photos": sum(len(v) for v in people.values()),
            "source": "../shared/faces (identities.csv), people with at least 2 photos that give a one-face webcam scene",
            "seed": args.seed,
            "genuine_per_person": args.genuine,
            "attacks_per_person": args.attacks,
        },
        "rows": rows,
        "scene_building_seconds": round(scenes_seconds, 1),
        "load_average": round(load, 2),
        "cpu_count": os.cpu_count(),
    }
    if args.json:
        print(json.dumps(summary))
        return
    print(
        f"{len(names)} people, {summary['data']['photos']} photos (../shared/faces), seed {args.seed}; "
        f"load average {load:.1f} on {os.cpu_count()} CPUs"
    )
    print(
        f"{'kind':<12}{'metric':<7}{'n':>5}{'wrong':>7}{'rate':>8}  {'95% CI':<16}{'s/capture':>10}  flags"
    )
    for r in rows:
        ci = f"[{r['ci95'][0]:.3f}, {r['ci95'][1]:.3f}]"
        rate = f"{r['rate']:.3f}" if r["rate"] is not None else "-"
        seconds = f"{r['seconds_median']:.2f}" if r["seconds_median"] is not None else "-"
        flags = ", ".join(f"{k} {v}" for k, v in r["flags"].items())
        print(
            f"{r['kind']:<12}{r['metric']:<7}{r['captures']:>5}{r['wrong']:>7}{rate:>8}  {ci:<16}{seconds:>10}  {flags}"
        )


if __name__ == "__main__":
    main()
