"""Face accuracy benchmark, out-of-sample figures only: the project pipeline beside plain ``DeepFace.verify``.

In one run it (a) runs ``manage.py faces_evaluate`` on ``shared/faces`` + ``shared/faces-lfw``
together and prints only the cross-validated-by-person column (TAR at FAR 1e-3/1e-4, FNIR at FPIR
1 %): thresholds fitted on other people than those measured; and (b) scores the 520 labelled pairs
of ``shared/faces/pairs.csv`` twice: with plain ``DeepFace.verify`` (deepface's own Dlib threshold,
not fitted here) and with the project pipeline at a threshold fitted **only on shared/faces-lfw**
(FAR 1e-3 on its impostor pairs; no person of pairs.csv is in it). In-sample figures are not printed.

The "plain deepface" baseline is ``DeepFace.verify(x, y, model_name="Dlib",
detector_backend="dlib")`` with deepface's default alignment and its own Dlib threshold:
deepface's true defaults (VGG-Face + opencv) need weights that cannot be downloaded here.

    .venv/bin/python bench/accuracy.py [--faces DIR] [--lfw DIR] [--limit N]

``--limit 20`` is a quick smoke run on the first pairs only. Plain deepface detects on the
full-size photo for every pair, so the full run takes a while on two cores. faces_evaluate reads
embeddings from ``.data/eval-cache``; the pairs.csv photos are embedded afresh, so their time is real.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


@dataclass(frozen=True)
class Pair:
    x: str
    y: str
    same: bool


@dataclass
class Verdicts:
    """One method's verdicts on the labelled pairs, and what they cost."""

    label: str
    verdicts: list[bool]
    seconds: float  # all the work the method needs for these pairs
    photos: int  # photos it embedded (a pair costs two for DeepFace.verify)
    failures: int = 0  # pairs with no usable face, counted as "different"

    def rates(self, pairs: list[Pair]) -> tuple[float, float, float]:
        same = [v for v, p in zip(self.verdicts, pairs, strict=True) if p.same]
        different = [not v for v, p in zip(self.verdicts, pairs, strict=True) if not p.same]
        tpr = sum(same) / len(same) if same else 0.0
        tnr = sum(different) / len(different) if different else 0.0
        return tpr, tnr, (tpr + tnr) / 2


def read_pairs(path: Path) -> list[Pair]:
    with path.open(newline="") as fh:
        return [
            Pair(row["file_x"], row["file_y"], row["same_person"].strip().lower() == "yes")
            for row in csv.DictReader(fh)
            if row["file_x"] and row["file_y"]
        ]


# shared/faces and shared/faces-lfw both hold these two people, under different labels; faces_evaluate
# reports such pairs ("suspected_same_person") and the photos confirm them.
SAME_PERSON = ("person01=Angelina_Jolie", "person02=Jennifer_Aniston")
LFW_ALSO_IN_FACES = ("Angelina_Jolie", "Jennifer_Aniston")


def run_faces_evaluate(sets: list[Path]) -> dict[str, Any]:
    from django.core.management import call_command

    args: list[str] = []
    for folder in sets:
        args += ["--images", str(folder / "images"), "--identities", str(folder / "identities.csv")]
    for alias in SAME_PERSON:  # the two people both shared sets hold (docs/faces.md)
        args += ["--same-person", alias]
    out = io.StringIO()
    call_command("faces_evaluate", *args, stdout=out, stderr=io.StringIO())
    result: dict[str, Any] = json.loads(out.getvalue().strip().splitlines()[-1])
    return result


def lfw_threshold(lfw: Path, far: float = 1e-3) -> float:
    """The FAR 1e-3 threshold fitted on shared/faces-lfw's impostor pairs only."""
    import numpy as np

    from search import evaluation as ev
    from search.evaluation_cache import photo_faces

    with (lfw / "identities.csv").open(newline="") as fh:
        # People who are also in shared/faces are left out, so the threshold is fitted on other people.
        rows = [
            r
            for r in csv.DictReader(fh)
            if r["file"] and r["identity"] and r["identity"] not in LFW_ALSO_IN_FACES
        ]
    found, _ = photo_faces([lfw / "images" / r["file"] for r in rows])
    dims = max((f.embeddings.shape[1] for f in found if len(f.boxes)), default=128)
    emb = np.stack(
        [m if (m := f.main("centre")) is not None else np.full(dims, np.nan) for f in found]
    )
    ids = np.array([r["identity"] for r in rows])
    i, j = ev.pair_indices(len(ids))
    d = ev.all_pair_distances(emb)[i, j]
    return ev.threshold_at_far(d[ids[i] != ids[j]], far)


def pipeline_verdicts(images: Path, pairs: list[Pair], threshold: float) -> Verdicts:
    import numpy as np

    from search import engine
    from search.evaluation_cache import photo_faces

    engine.warm_up()  # model loading is not part of the timing, as in faces_evaluate
    names = sorted({p.x for p in pairs} | {p.y for p in pairs})
    started = time.perf_counter()
    found, _ = photo_faces([images / n for n in names], use_cache=False)  # timed: embed them all
    seconds = time.perf_counter() - started
    embeddings = {
        n: m for n, f in zip(names, found, strict=True) if (m := f.main("centre")) is not None
    }
    verdicts: list[bool] = []
    failures = 0
    for pair in pairs:
        if pair.x not in embeddings or pair.y not in embeddings:
            failures += 1  # no face: the pair is "different", and stays in the denominator
            verdicts.append(False)
            continue
        distance = 1.0 - float(np.dot(embeddings[pair.x], embeddings[pair.y]))
        verdicts.append(distance <= threshold)
    return Verdicts("project pipeline", verdicts, seconds, photos=len(names), failures=failures)


def deepface_verdicts(images: Path, pairs: list[Pair]) -> tuple[Verdicts, float | None]:
    from search import engine

    # DEEPFACE_HOME must point at the copied Dlib weights before deepface is first imported,
    # or it would create ~/.deepface and try to download them.
    engine.warm_up()
    from deepface import DeepFace

    def verify(pair: Pair) -> dict[str, Any]:
        result: dict[str, Any] = DeepFace.verify(
            str(images / pair.x),
            str(images / pair.y),
            model_name="Dlib",
            detector_backend="dlib",
            silent=True,
        )
        return result

    # deepface builds its models lazily on the first call; keep that out of the timing.
    with contextlib.suppress(ValueError):
        verify(pairs[0])
    verdicts: list[bool] = []
    failures = 0
    threshold: float | None = None
    started = time.perf_counter()
    for done, pair in enumerate(pairs, 1):
        if done % 50 == 0:  # the full run is long: show it is moving
            print(
                f"  DeepFace.verify {done}/{len(pairs)} pairs, {time.perf_counter() - started:.0f} s",
                file=sys.stderr,
            )
        try:
            result = verify(pair)
        except ValueError:  # "Face could not be detected" with enforce_detection=True
            failures += 1
            verdicts.append(False)
            continue
        threshold = float(result["threshold"])
        verdicts.append(bool(result["verified"]))
    seconds = time.perf_counter() - started
    return Verdicts(
        "plain DeepFace.verify", verdicts, seconds, photos=2 * len(pairs), failures=failures
    ), threshold


def report(
    pairs: list[Pair],
    ours: Verdicts,
    theirs: Verdicts,
    threshold: float,
    deepface_threshold: float | None,
) -> float:
    same = sum(p.same for p in pairs)
    print(f"\n{len(pairs)} labelled pairs ({same} same person, {len(pairs) - same} different)")
    print(
        "plain deepface = DeepFace.verify(model_name='Dlib', detector_backend='dlib'), default alignment, "
        f"deepface's own threshold {deepface_threshold if deepface_threshold is not None else '?'} "
        "(VGG-Face/opencv defaults need weights that are not available offline)"
    )
    print(
        f"project pipeline = engine.decode_image + engine.analyse, centre face, each photo embedded once, "
        f"threshold {threshold} fitted on other people (shared/faces-lfw)"
    )
    header = (
        f"{'method':<24}{'TPR':>8}{'TNR':>8}{'bal.acc':>9}{'s/pair':>9}{'s/photo':>9}{'no face':>9}"
    )
    print(header)
    print("-" * len(header))
    balanced: dict[str, float] = {}
    for v in (theirs, ours):
        tpr, tnr, bal = v.rates(pairs)
        balanced[v.label] = bal
        print(
            f"{v.label:<24}{tpr:>8.4f}{tnr:>8.4f}{bal:>9.4f}{v.seconds / len(pairs):>9.3f}"
            f"{v.seconds / max(1, v.photos):>9.3f}{v.failures:>9}"
        )
    print(
        f"speed-up: x{theirs.seconds / ours.seconds:.1f} per pair (DeepFace.verify re-embeds both photos of every pair), "
        f"x{(theirs.seconds / theirs.photos) / (ours.seconds / ours.photos):.1f} per photo embedded"
    )
    print(f"balanced accuracy gain: {balanced[ours.label] - balanced[theirs.label]:+.4f}")
    return balanced[ours.label]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=Path, default=BASE_DIR.parent / "shared" / "faces")
    parser.add_argument("--lfw", type=Path, default=BASE_DIR.parent / "shared" / "faces-lfw")
    parser.add_argument(
        "--limit", type=int, default=0, help="only the first N pairs of pairs.csv (smoke run)"
    )
    args = parser.parse_args()
    pairs = read_pairs(args.faces / "pairs.csv")
    if args.limit:
        pairs = pairs[: args.limit]

    import django

    from config.devservices import ensure_environment

    ensure_environment()  # settings start nothing: like manage.py, the bench starts the servers
    django.setup()
    from search import engine

    print(f"model={engine.model_name()} detector={engine.detector_name()} cpus={os.cpu_count()}")
    print(f"load average {Path('/proc/loadavg').read_text().split()[:3]}")
    evaluation = run_faces_evaluate([args.faces, args.lfw])
    print(
        f"\nfaces_evaluate on {evaluation['images']} photos of {evaluation['people']} people "
        f"(no face: {evaluation['no_face']}), cross-validated by person (out of sample):"
    )
    for row in evaluation.get("verification", []) + evaluation.get("identification", []):
        print(
            f"  {row['metric']:<38} {row['cv'] if row['cv'] is not None else row.get('note', 'n/a')}"
        )

    threshold = lfw_threshold(args.lfw)
    ours = pipeline_verdicts(args.faces / "images", pairs, threshold)
    theirs, deepface_threshold = deepface_verdicts(args.faces / "images", pairs)
    pair_balanced = report(pairs, ours, theirs, round(threshold, 5), deepface_threshold)
    print(
        f"\nout of sample: the project threshold ({threshold:.4f}, FAR 1e-3) was fitted on {args.lfw.name} only; "
        f"pairs.csv is {args.faces.name}. Balanced accuracy {pair_balanced:.4f}."
    )


if __name__ == "__main__":
    main()
