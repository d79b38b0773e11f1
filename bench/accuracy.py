"""Face accuracy benchmark: the project pipeline against plain ``DeepFace.verify``.

In one run it (a) runs ``manage.py faces_evaluate`` on the labelled photos (all pairs among
them, the committed threshold from ``search/calibration.json``) and (b) scores the 520
labelled pairs of ``pairs.csv`` twice: with plain ``DeepFace.verify`` and with the project
pipeline (each photo embedded once, largest face, committed threshold). It prints TPR, TNR,
balanced accuracy, time per pair and per photo, the ratios, and whether the goal
(balanced accuracy >= 0.99 and rank-1 >= 0.99) is met. It prints figures; it is not a test.

The "plain deepface" baseline is ``DeepFace.verify(x, y, model_name="Dlib",
detector_backend="dlib")`` with deepface's default alignment and its own Dlib threshold:
deepface's true defaults (VGG-Face + opencv) need weights that cannot be downloaded here.

    .venv/bin/python bench/accuracy.py [--faces DIR] [--limit N]

``--faces`` is a folder holding ``images/``, ``identities.csv`` and ``pairs.csv`` (default:
``shared/faces`` beside the repository); ``--limit 20`` is a quick smoke run on the first
pairs only. Plain deepface detects on the full-size photo for every pair, so the full run
takes a while on two cores.
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

GOAL_BALANCED_ACCURACY = 0.99
GOAL_RANK1 = 0.99


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


def run_faces_evaluate(images: Path, identities: Path) -> dict[str, Any]:
    from django.core.management import call_command

    out = io.StringIO()
    call_command("faces_evaluate", images=str(images), identities=str(identities), stdout=out)
    # The command prints exactly one JSON line; anything before it would be chatter.
    line = [ln for ln in out.getvalue().splitlines() if ln.strip().startswith("{")][-1]
    result: dict[str, Any] = json.loads(line)
    return result


def pipeline_verdicts(images: Path, pairs: list[Pair], threshold: float) -> Verdicts:
    import numpy as np

    from search import engine

    engine.warm_up()  # model loading is not part of the timing, as in faces_evaluate
    names = sorted({p.x for p in pairs} | {p.y for p in pairs})
    embeddings: dict[str, np.ndarray] = {}
    started = time.perf_counter()
    for name in names:
        try:
            analysis = engine.analyse(engine.decode_image((images / name).read_bytes()))
        except engine.ImageRejected:
            continue
        if analysis.faces:
            # A labelled photo shows its person as the main face, as faces_evaluate assumes.
            main = max(analysis.faces, key=lambda f: f.box[2] * f.box[3])
            embeddings[name] = main.embedding
    verdicts: list[bool] = []
    failures = 0
    for pair in pairs:
        if pair.x not in embeddings or pair.y not in embeddings:
            failures += 1
            verdicts.append(False)
            continue
        distance = 1.0 - float(np.dot(embeddings[pair.x], embeddings[pair.y]))
        verdicts.append(distance <= threshold)
    seconds = time.perf_counter() - started
    return Verdicts("project pipeline", verdicts, seconds, photos=len(names), failures=failures)


def deepface_verdicts(images: Path, pairs: list[Pair]) -> tuple[Verdicts, float | None]:
    from search import engine

    # DEEPFACE_HOME must point at the copied Dlib weights before deepface is first imported,
    # or it would create ~/.deepface and try to download them.
    engine.warm_up()
    from deepface import DeepFace

    def verify(pair: Pair) -> dict[str, Any]:
        result: dict[str, Any] = DeepFace.verify(
            str(images / pair.x), str(images / pair.y), model_name="Dlib", detector_backend="dlib", silent=True
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
            print(f"  DeepFace.verify {done}/{len(pairs)} pairs, {time.perf_counter() - started:.0f} s", file=sys.stderr)
        try:
            result = verify(pair)
        except ValueError:  # "Face could not be detected" with enforce_detection=True
            failures += 1
            verdicts.append(False)
            continue
        threshold = float(result["threshold"])
        verdicts.append(bool(result["verified"]))
    seconds = time.perf_counter() - started
    return Verdicts("plain DeepFace.verify", verdicts, seconds, photos=2 * len(pairs), failures=failures), threshold


def report(pairs: list[Pair], ours: Verdicts, theirs: Verdicts, threshold: float, deepface_threshold: float | None) -> float:
    same = sum(p.same for p in pairs)
    print(f"\n{len(pairs)} labelled pairs ({same} same person, {len(pairs) - same} different)")
    print(
        "plain deepface = DeepFace.verify(model_name='Dlib', detector_backend='dlib'), default alignment, "
        f"deepface's own threshold {deepface_threshold if deepface_threshold is not None else '?'} "
        "(VGG-Face/opencv defaults need weights that are not available offline)"
    )
    print(
        f"project pipeline = engine.decode_image + engine.analyse, largest face, each photo embedded once, "
        f"committed threshold {threshold}"
    )
    header = f"{'method':<24}{'TPR':>8}{'TNR':>8}{'bal.acc':>9}{'s/pair':>9}{'s/photo':>9}{'no face':>9}"
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
    parser.add_argument("--limit", type=int, default=0, help="only the first N pairs of pairs.csv (smoke run)")
    args = parser.parse_args()
    images, identities = args.faces / "images", args.faces / "identities.csv"
    pairs = read_pairs(args.faces / "pairs.csv")
    if args.limit:
        pairs = pairs[: args.limit]

    import django

    django.setup()
    from search import calibration, engine

    print(f"model={engine.model_name()} detector={engine.detector_name()} cpus={os.cpu_count()}")
    evaluation = run_faces_evaluate(images, identities)
    print("faces_evaluate:", json.dumps(evaluation))

    threshold = calibration.calibration_for("Dlib").threshold
    ours = pipeline_verdicts(images, pairs, threshold)
    theirs, deepface_threshold = deepface_verdicts(images, pairs)
    pair_balanced = report(pairs, ours, theirs, threshold, deepface_threshold)

    met = (
        evaluation["balanced_accuracy"] >= GOAL_BALANCED_ACCURACY
        and evaluation["rank1"] >= GOAL_RANK1
        and pair_balanced >= GOAL_BALANCED_ACCURACY
    )
    print(
        f"\ngoal: balanced accuracy >= {GOAL_BALANCED_ACCURACY} and rank-1 >= {GOAL_RANK1}: "
        f"faces_evaluate balanced {evaluation['balanced_accuracy']}, rank-1 {evaluation['rank1']}; "
        f"pairs.csv balanced {pair_balanced:.4f} -> {'MET' if met else 'NOT MET'}"
    )
    calibrated_on = json.loads(calibration.CALIBRATION_FILE.read_text()).get("Dlib", {}).get("calibrated_on", {})
    if calibrated_on.get("images") == evaluation["images"]:
        # Same photo count as the calibration run: most likely the same set, so no held-out figure.
        print("note: the committed threshold was calibrated on these labelled photos; the figures are in-sample")


if __name__ == "__main__":
    main()
