"""Face pipeline variants compared OUT OF SAMPLE on ../shared/faces and ../shared/faces-lfw.

Each candidate change of the dlib pipeline (search/engine.py, settings ``FACE_*``) is one
variant: mirror mean, dlib jitter, a second HOG pass with more upsampling where the first found
nothing, dlib's CNN detector as a fallback, 68-landmark alignment, and their combinations. Every
labelled photo is decoded and analysed through the engine's own steps (``detection_image``,
``detect``, ``face_chip``, ``raw_descriptors``); steps that variants share are computed once per
photo and cached in ``.data/pipeline-cache/`` (one file of embeddings per dataset and variant).
The main face of a photo is the one nearest the image centre on faces-lfw (LFW centres the
labelled person) and the largest on faces. A photo with no face stays in every denominator: its
pairs are never accepted.

Figures, all out of sample (the threshold is never fitted on the people it is measured on):

- person-level k-fold cross-validation over all pairs of each set: balanced accuracy at the
  threshold that maximised balanced accuracy on the other folds' people, and TAR at FAR 1e-3 and
  1e-4 with the threshold set at that FAR on the other folds' impostor pairs (the FAR actually
  measured on the held-out people is printed beside it);
- an LFW-View-2-like check on faces-lfw: 10 folds of people, 300 same + 300 different pairs drawn
  within each fold, threshold from 9 folds, accuracy on the 10th, mean ± sd (dlib: 99.38 %);
- no-face count, and seconds per photo (decode + detection + alignment + embedding of the main
  face, summed from the steps' timings; the machine is shared, so the load average is printed).

Jitter costs ``num_jitters`` times the embedding, so it runs on a subset of faces-lfw people
(``--jitter-people``) and is compared with the baseline on that same subset.

    .venv/bin/python bench/pipeline.py [--json] [--folds 10] [--jitter-people 12] [--jitters 5] [--cached-only]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import pickle
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

CACHE_DIR = BASE_DIR / ".data" / "pipeline-cache"
DATASETS = {"faces": ("../shared/faces", "largest"), "faces-lfw": ("../shared/faces-lfw", "centre")}

from pipeline_metrics import (  # noqa: E402
    SEED,
    cross_validated,
    distance_matrix,
    view2_like,
    view2_like_pairs,
)

# --- Variants ------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    name: str
    retry: bool = False  # HOG with 2 upsampling passes where 1 found nothing
    cnn: bool = False  # CNN detector where HOG found nothing
    landmarks: int = 5
    mirror: bool = False
    jitters: int = 0


VARIANTS = [
    Variant("baseline (HOG up1, 5-point, plain)"),
    Variant("a. mirror mean", mirror=True),
    Variant("c. retry HOG up2 where none", retry=True),
    Variant("d. CNN fallback where none", cnn=True),
    Variant("c+d. retry up2, then CNN", retry=True, cnn=True),
    Variant("e. 68-point alignment", landmarks=68),
    Variant("a+c+d. mirror, retry, CNN", retry=True, cnn=True, mirror=True),
    Variant("a+e. mirror, 68-point", landmarks=68, mirror=True),
    Variant("a+d+e. mirror, CNN, 68-point (kept)", cnn=True, landmarks=68, mirror=True),
]


# --- Embedding with shared steps -----------------------------------------------------


@dataclass
class PhotoRecord:
    """What the variants of one photo need: per detector stage the main face's descriptors."""

    decode_s: float = 0.0
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)  # "hog1", "hog2", "cnn"


def _main_face(
    found: list[tuple[Any, float, str]], shape: tuple[int, ...], rule: str
) -> Any | None:
    if not found:
        return None
    if rule == "largest":
        return max(found, key=lambda f: f[0].width() * f[0].height())[0]
    cy, cx = shape[0] / 2, shape[1] / 2
    return min(found, key=lambda f: (f[0].center().x - cx) ** 2 + (f[0].center().y - cy) ** 2)[0]


def _stage(
    engine_state: dict[str, Any], small: np.ndarray, found: list[Any], rule: str, seconds: float
) -> dict[str, Any]:
    from search import engine

    stage: dict[str, Any] = {"detect_s": seconds, "found": bool(found)}
    rect = _main_face(found, small.shape, rule)
    if rect is None:
        return stage
    for points in (5, 68):
        started = time.perf_counter()
        chip = engine.face_chip(engine_state, small, rect, points)
        stage[f"chip{points}_s"] = time.perf_counter() - started
        started = time.perf_counter()
        stage[f"plain{points}"] = engine.raw_descriptors(engine_state, [chip])[0]
        stage[f"embed{points}_s"] = time.perf_counter() - started
        if points == 5:  # the mirror of the 68-point chip only where that alignment helps
            stage["flip5"] = engine.raw_descriptors(engine_state, [engine.mirrored(chip)])[0]
            stage["chip5"] = chip  # kept for the jitter subset
        else:
            stage["chip68"] = chip
    return stage


def embed_photo(engine_state: dict[str, Any], path: Path, rule: str) -> PhotoRecord:
    from search import engine

    record = PhotoRecord()
    started = time.perf_counter()
    decoded = engine.decode_image(path.read_bytes())
    small, _ = engine.detection_image(decoded)
    record.decode_s = time.perf_counter() - started
    base = engine.PipelineOptions(upsample=1)
    started = time.perf_counter()
    found = engine.detect(engine_state, small, base)
    record.stages["hog1"] = _stage(engine_state, small, found, rule, time.perf_counter() - started)
    if not found:
        started = time.perf_counter()
        again = engine.detect(engine_state, small, engine.PipelineOptions(upsample=2))
        record.stages["hog2"] = _stage(
            engine_state, small, again, rule, time.perf_counter() - started
        )
        started = time.perf_counter()
        cnn = engine.detect(
            engine_state, small, engine.PipelineOptions(upsample=1, cnn_fallback=True)
        )
        # detect() ran HOG up1 again before the CNN: charge only the CNN's share.
        cnn_s = max(0.0, time.perf_counter() - started - record.stages["hog1"]["detect_s"])
        record.stages["cnn"] = _stage(engine_state, small, cnn, rule, cnn_s) | {
            "upsample": engine.CNN_UPSAMPLE
        }
    return record


def cached_people(
    dataset: str, files: list[Path], people: list[str]
) -> tuple[list[Path], list[str]]:
    """Only the people all of whose photos are in the cache (a shorter run on a busy machine)."""
    from search import engine

    cache_path = CACHE_DIR / f"{dataset}-steps-{engine.PIPELINE_VERSION}.pickle"
    done = set(pickle.loads(cache_path.read_bytes())) if cache_path.exists() else set()  # noqa: S301
    complete = {
        p
        for p in people
        if all(f.name in done for f, q in zip(files, people, strict=True) if q == p)
    }
    keep = [i for i, p in enumerate(people) if p in complete]
    return [files[i] for i in keep], [people[i] for i in keep]


def load_records(name: str, files: list[Path], rule: str) -> dict[str, PhotoRecord]:
    from search import engine

    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    cache_path = CACHE_DIR / f"{name}-steps-{engine.PIPELINE_VERSION}.pickle"
    records: dict[str, PhotoRecord] = {}
    if cache_path.exists():
        records = pickle.loads(cache_path.read_bytes())  # noqa: S301 - our own cache file
    # A photo whose CNN fallback ran with another upsampling than the engine's is done again.
    missing = [
        f
        for f in files
        if f.name not in records
        or records[f.name].stages.get("cnn", {}).get("upsample", engine.CNN_UPSAMPLE)
        != engine.CNN_UPSAMPLE
        or ("cnn" in records[f.name].stages and "upsample" not in records[f.name].stages["cnn"])
    ]
    if missing:
        engine_state = engine._engine("Dlib", "dlib")
        for count, path in enumerate(missing, 1):
            records[path.name] = embed_photo(engine_state, path, rule)
            if count % 10 == 0 or count == len(missing):
                cache_path.write_bytes(pickle.dumps(records))
                print(
                    f"  {name}: {count}/{len(missing)} photos embedded", file=sys.stderr, flush=True
                )
    # The mirror of the 68-point chip, where an older cache lacks it.
    late = [
        (r, st)
        for r in records.values()
        for st in r.stages.values()
        if "flip68" not in st and st.get("chip68") is not None
    ]
    if late:
        engine_state = engine._engine("Dlib", "dlib")
        for count, (_, stage) in enumerate(late, 1):
            stage["flip68"] = engine.raw_descriptors(
                engine_state, [engine.mirrored(stage["chip68"])]
            )[0]
            if count % 100 == 0 or count == len(late):
                cache_path.write_bytes(pickle.dumps(records))
                print(
                    f"  {name}: {count}/{len(late)} mirrored 68-point chips embedded",
                    file=sys.stderr,
                    flush=True,
                )
    return records


def variant_embedding(
    record: PhotoRecord, variant: Variant
) -> tuple[np.ndarray | None, float, str]:
    """(normalised embedding or None, seconds for this photo, detector stage used)."""
    seconds = record.decode_s + record.stages["hog1"]["detect_s"]
    order = ["hog1"] + (["hog2"] if variant.retry else []) + (["cnn"] if variant.cnn else [])
    for name in order:
        stage = record.stages[name]
        if name != "hog1":
            seconds += stage["detect_s"]
        if not stage["found"]:
            continue
        lm = variant.landmarks
        seconds += stage[f"chip{lm}_s"] + stage[f"embed{lm}_s"] * (2 if variant.mirror else 1)
        raw = stage[f"plain{lm}"] + (stage[f"flip{lm}"] if variant.mirror else 0)
        return raw / np.linalg.norm(raw), seconds, name
    return None, seconds, "none"


def jitter_embeddings(
    records: dict[str, PhotoRecord], names: list[str], jitters: int
) -> tuple[dict[str, np.ndarray | None], float]:
    from search import engine

    engine_state = engine._engine("Dlib", "dlib")
    cache_path = CACHE_DIR / f"faces-lfw-jitter{jitters}-{engine.PIPELINE_VERSION}.pickle"
    cached: dict[str, Any] = pickle.loads(cache_path.read_bytes()) if cache_path.exists() else {}  # noqa: S301
    for count, name in enumerate(names, 1):
        if name in cached:
            continue
        stage = records[name].stages["hog1"]
        if not stage["found"]:
            cached[name] = (None, 0.0)
            continue
        started = time.perf_counter()
        raw = engine.raw_descriptors(engine_state, [stage["chip5"]], jitters)[0]
        cached[name] = (raw / np.linalg.norm(raw), time.perf_counter() - started)
        if count % 25 == 0:
            cache_path.write_bytes(pickle.dumps(cached))
            print(f"  jitter: {count}/{len(names)}", file=sys.stderr, flush=True)
    cache_path.write_bytes(pickle.dumps(cached))
    extra = float(
        np.mean([cached[n][1] - records[n].stages["hog1"].get("embed5_s", 0.0) for n in names])
    )
    return {n: cached[n][0] for n in names}, extra


# --- Report ----------------------------------------------------------------------------


def labelled(folder: Path) -> tuple[list[Path], list[str]]:
    with (folder / "identities.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    return [folder / "images" / row["file"] for row in rows], [row["identity"] for row in rows]


def evaluate(
    records: dict[str, PhotoRecord],
    files: list[Path],
    people: list[str],
    folds: int,
    embed: Callable[[PhotoRecord, str], tuple[np.ndarray | None, float]],
    view2: list[list[tuple[int, int, bool]]] | None,
) -> dict[str, Any]:
    pairs = [embed(records[f.name], f.name) for f in files]
    embeddings = [e for e, _ in pairs]
    dist = distance_matrix(embeddings)
    row: dict[str, Any] = {
        "photos": len(files),
        "people": len(set(people)),
        "folds": folds,
        "no_face": sum(e is None for e in embeddings),
        "seconds_per_photo": float(np.mean([s for _, s in pairs])),
    }
    row.update(cross_validated(dist, people, folds))
    if view2 is not None:
        row.update(view2_like(dist, view2))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--folds", type=int, default=10, help="person-level folds (default 10)")
    parser.add_argument(
        "--jitter-people",
        type=int,
        default=12,
        help="faces-lfw people for the jitter row (0: skip)",
    )
    parser.add_argument("--jitters", type=int, default=5)
    parser.add_argument(
        "--cached-only", action="store_true", help="only people whose photos are all cached already"
    )
    args = parser.parse_args()

    import django

    from config.devservices import ensure_environment

    ensure_environment()  # settings start nothing: like manage.py, the bench starts the servers
    django.setup()
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
    report: dict[str, Any] = {"loadavg_start": load, "out_of_sample": True, "datasets": {}}
    for dataset, (folder_name, rule) in DATASETS.items():
        folder = (BASE_DIR / folder_name).resolve()
        files, people = labelled(folder)
        if args.cached_only:
            files, people = cached_people(dataset, files, people)
        records = load_records(dataset, files, rule)
        view2 = view2_like_pairs(people) if dataset == "faces-lfw" else None
        # At least 3 people a fold, so that every held-out fold has impostor pairs of its own.
        folds = max(2, min(args.folds, len(set(people)) // 3))
        rows: dict[str, Any] = {}
        for variant in VARIANTS:

            def embed(
                record: PhotoRecord, _name: str, variant: Variant = variant
            ) -> tuple[np.ndarray | None, float]:
                embedding, seconds, _ = variant_embedding(record, variant)
                return embedding, seconds

            rows[variant.name] = evaluate(records, files, people, folds, embed, view2)
            cache = (
                CACHE_DIR
                / f"{dataset}-{re.sub(r'[^a-z0-9]+', '-', variant.name.lower()).strip('-')}.npz"
            )
            np.savez_compressed(
                cache,
                files=np.array([f.name for f in files]),
                embeddings=np.stack(
                    [
                        e if e is not None else np.full(128, np.nan)
                        for e, _, _ in (variant_embedding(records[f.name], variant) for f in files)
                    ]
                ),
            )
        if dataset == "faces-lfw" and args.jitter_people:
            chosen = sorted(set(people))
            rng = np.random.default_rng(SEED + 2)
            subset_people = set(
                rng.choice(chosen, size=min(args.jitter_people, len(chosen)), replace=False)
            )
            keep = [i for i, p in enumerate(people) if p in subset_people]
            sub_files, sub_people = [files[i] for i in keep], [people[i] for i in keep]
            jittered, extra = jitter_embeddings(records, [f.name for f in sub_files], args.jitters)
            sub_folds = max(2, min(args.folds, len(subset_people) // 3))

            def plain(record: PhotoRecord, _name: str) -> tuple[np.ndarray | None, float]:
                embedding, seconds, _ = variant_embedding(record, VARIANTS[0])
                return embedding, seconds

            def jitter(
                record: PhotoRecord,
                name: str,
                jittered: dict[str, np.ndarray | None] = jittered,
                extra: float = extra,
            ) -> tuple[np.ndarray | None, float]:
                _, seconds, _ = variant_embedding(record, VARIANTS[0])
                return jittered[name], seconds + extra

            rows[f"baseline on the {len(subset_people)}-people jitter subset"] = evaluate(
                records, sub_files, sub_people, sub_folds, plain, None
            )
            rows[f"b. jitter {args.jitters} (same subset)"] = evaluate(
                records, sub_files, sub_people, sub_folds, jitter, None
            )
        report["datasets"][dataset] = rows
    report["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3] if load else []
    if args.json:
        print(json.dumps(report, indent=2))
        return
    end = " ".join(report["loadavg_end"])
    print(
        f"OUT OF SAMPLE (person-level k-fold CV); load average at start {' '.join(load)}, end {end}"
    )
    for dataset, rows in report["datasets"].items():
        first = next(iter(rows.values()))
        print(
            f"\n{dataset}: {first['photos']} photos of {first['people']} people, {first['folds']} folds of people"
        )
        header = f"{'variant':44} {'no face':>8} {'bal.acc':>8} {'TAR@1e-3':>9} {'TAR@1e-4':>9} {'s/photo':>8}"
        if dataset == "faces-lfw":
            header += f" {'View2-like (10-fold)':>22}"
        print(header)
        for name, row in rows.items():
            line = (
                f"{name:44} {row['no_face']:>4}/{row['photos']:<4}{row['balanced_accuracy']:>7.4f} "
                f"{row['tar_at_far_1e-03']:>9.4f} {row['tar_at_far_1e-04']:>9.4f} {row['seconds_per_photo']:>8.3f}"
            )
            if "view2_like_mean" in row:
                line += (
                    f"   {100 * row['view2_like_mean']:6.2f} % ± {100 * row['view2_like_sd']:.2f}"
                )
                line += f" ({row['view2_like_pairs_per_fold']:.0f} pairs/fold)"
            print(line)


if __name__ == "__main__":
    main()
