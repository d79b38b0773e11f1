"""Measure the face pipeline on labelled photos the way the field does, and fit the operating points.

Two modes:

* ``--identities`` (one or more ``--images DIR --identities CSV`` pairs, evaluated together): all
  pairs 1:1 (TAR at FAR 1e-3 and 1e-4) and 1:N open-set identification (FNIR at FPIR 1 % for
  galleries of 100 and 1,000), in-sample and cross-validated by person side by side.
  ``--calibrate [--write]`` fits the operating points and the confidence curve and stores them in
  ``search/calibration.json``.
* ``--pairs FILE --images DIR``: LFW's ``pairs.txt`` (or a CSV ``file1,file2,same[,fold]``), the
  standard protocol (threshold chosen on the other folds, accuracy on each fold, mean ± sd) and the
  accuracy at the committed threshold.

A photo with no usable face is counted (``no_face``) and kept: its pairs are predicted "different".
Human-readable lines come first; the last line of the output is one JSON object with every figure.
"""

from __future__ import annotations

import csv
import json
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
from django.core.management.base import BaseCommand, CommandError, CommandParser

from search import calibration, engine
from search import evaluation as ev
from search.evaluation_cache import MAIN_FACE_CHOICES, photo_faces, pipeline_version

FARS = (1e-3, 1e-4)
FPIR = 0.01
GALLERY_SIZES = (100, 1000)
OPEN_SET_DRAWS = 10


class Command(BaseCommand):
    help = (
        "Evaluate the real face pipeline on labelled photos (--identities: all pairs, 1:1 and 1:N, in-sample "
        "and cross-validated by person; --pairs: the LFW fold protocol). --calibrate [--write] fits the "
        "operating points and the confidence curve. The last output line is JSON."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--images", action="append", required=True, help="folder of photos (repeatable)"
        )
        parser.add_argument(
            "--identities",
            action="append",
            help="CSV with columns file,identity (repeatable, one per --images)",
        )
        parser.add_argument("--pairs", help="LFW pairs.txt, or a CSV file1,file2,same[,fold]")
        parser.add_argument("--main-face", choices=MAIN_FACE_CHOICES, default="centre")
        parser.add_argument(
            "--folds", type=int, default=10, help="person folds for cross-validation"
        )
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--calibrate", action="store_true")
        parser.add_argument(
            "--write", action="store_true", help="with --calibrate: save to search/calibration.json"
        )
        parser.add_argument(
            "--threshold", type=float, help="evaluate at this threshold instead of the stored one"
        )
        parser.add_argument("--no-cache", action="store_true", help="embed every photo again")
        parser.add_argument(
            "--same-person",
            action="append",
            default=[],
            metavar="A=B",
            help="labels A and B (in any of the sets) name the same person: their pairs are genuine (repeatable)",
        )

    # --- shared -------------------------------------------------------------------------------

    def _embed(
        self, paths: list[Path], options: dict[str, Any]
    ) -> tuple[np.ndarray, list[int], int, float]:
        """Main-face embeddings (NaN rows: no face), indices of photos with none, faces found, seconds per
        newly embedded photo."""
        self.embedded = 0
        engine.warm_up()
        started = time.perf_counter()
        found, computed = photo_faces(paths, use_cache=not options["no_cache"])
        seconds = (time.perf_counter() - started) / computed if computed else 0.0
        self.embedded = computed
        dims = engine.model_dimensions()
        rows = []
        no_face: list[int] = []
        for k, (path, faces) in enumerate(zip(paths, found, strict=True)):
            main = faces.main(options["main_face"])
            if main is None:
                no_face.append(k)
                self.stderr.write(
                    f"{path.name}: no face found{f' ({faces.error})' if faces.error else ''}"
                )
                rows.append(np.full(dims, np.nan, np.float32))
            else:
                rows.append(main)
        return np.stack(rows), no_face, sum(len(f.boxes) for f in found), seconds

    def _committed_threshold(self, options: dict[str, Any]) -> float:
        if options["threshold"] is not None:
            return float(options["threshold"])
        return calibration.calibration_for(engine.model_name()).threshold

    def handle(self, *args: Any, **options: Any) -> None:
        if options["folds"] < 2:
            raise CommandError("--folds must be at least 2")
        if options["pairs"]:
            if len(options["images"]) != 1 or options["identities"]:
                raise CommandError("--pairs takes one --images folder and no --identities")
            if options["calibrate"]:
                raise CommandError(
                    "--calibrate works on --identities sets (all pairs, person folds)"
                )
            result = self._pairs_mode(Path(options["pairs"]), Path(options["images"][0]), options)
        else:
            if not options["identities"] or len(options["identities"]) != len(options["images"]):
                raise CommandError(
                    "give one --identities CSV per --images folder (or --pairs FILE)"
                )
            result = self._identities_mode(options)
        self.stdout.write(json.dumps(result))

    # --- pairs mode -----------------------------------------------------------------------------

    def _pairs_mode(
        self, pairs_file: Path, folder: Path, options: dict[str, Any]
    ) -> dict[str, Any]:
        if not pairs_file.exists():
            raise CommandError(f"{pairs_file} does not exist")
        if not folder.is_dir():
            raise CommandError(f"{folder} is not a folder")
        text = pairs_file.read_text()
        first = text.lstrip().splitlines()[0] if text.strip() else ""
        if "," in first:
            pairs = read_pairs_csv(text)
            fmt = "csv"
        else:
            pairs = read_lfw_pairs(text)
            fmt = "lfw"
        files = sorted({p for a, b, _, _ in pairs for p in (a, b)})
        missing = [f for f in files if not (folder / f).exists()]
        if missing:
            more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
            raise CommandError(
                f"{len(missing)} photos named in {pairs_file.name} are missing: {', '.join(missing[:3])}{more}"
            )
        embeddings, no_face, faces, seconds = self._embed([folder / f for f in files], options)
        index = {f: i for i, f in enumerate(files)}
        a = embeddings[[index[p[0]] for p in pairs]].astype(float)
        b = embeddings[[index[p[1]] for p in pairs]].astype(float)
        d = 1.0 - np.sum(a * b, axis=1)
        d = np.where(np.isnan(d), ev.NO_FACE, d)
        same = np.array([p[2] for p in pairs], bool)
        folds = np.array([p[3] for p in pairs])
        per_fold = ev.fold_accuracies(d, same, folds)
        mean, sd = ev.mean_sd([r.accuracy for r in per_fold])
        committed = self._committed_threshold(options)
        at_committed = ev.accuracy_at(d, same, committed)
        no_face_set = {files[k] for k in no_face}
        affected = sum(1 for p in pairs if p[0] in no_face_set or p[1] in no_face_set)
        self.stdout.write(
            f"pairs {len(pairs)} ({fmt}, {len(per_fold)} folds), photos {len(files)}, no_face {len(no_face)}"
        )
        for r in per_fold:
            self.stdout.write(
                f"  fold {r.fold}: threshold {r.threshold:.4f} (other folds), accuracy {r.accuracy:.4f}"
            )
        self.stdout.write(
            f"accuracy {mean:.4f} ± {sd:.4f} (threshold chosen on the other folds: out of sample)"
        )
        self.stdout.write(
            f"accuracy at the committed threshold {committed:.4f}: {at_committed:.4f}"
        )
        return {
            "mode": "pairs",
            "format": fmt,
            "pairs": len(pairs),
            "images": len(files),
            "faces": faces,
            "no_face": len(no_face),
            "no_face_pairs": affected,
            "folds": [
                {
                    "fold": r.fold,
                    "threshold": round(r.threshold, 5),
                    "accuracy": round(r.accuracy, 4),
                }
                for r in per_fold
            ],
            "accuracy_mean": round(mean, 4),
            "accuracy_sd": round(sd, 4),
            "committed_threshold": round(committed, 5),
            "accuracy_at_committed": round(at_committed, 4),
            "main_face": options["main_face"],
            "seconds_per_image": round(seconds, 3),
            "embedded": self.embedded,
        }

    # --- identities mode --------------------------------------------------------------------------

    def _identities_mode(self, options: dict[str, Any]) -> dict[str, Any]:
        paths: list[Path] = []
        people: list[str] = []
        sets = []
        for set_index, (images, identities) in enumerate(
            zip(options["images"], options["identities"], strict=True)
        ):
            folder = Path(images)
            labels = read_identities(Path(identities))
            for name, person in labels.items():
                path = folder / name
                if not path.exists():
                    raise CommandError(f"{path} is listed in the identities file but missing")
                paths.append(path)
                people.append(f"{set_index}:{person}")
            sets.append(
                {"images": str(images), "photos": len(labels), "people": len(set(labels.values()))}
            )
        if len(paths) < 2:
            raise CommandError("need at least two labelled photos")
        people = merge_same_person(people, options["same_person"])
        ids = np.array(people)
        embeddings, no_face, faces, seconds = self._embed(paths, options)
        suspects = suspected_same_person(embeddings, ids)
        for row in suspects:
            self.stderr.write(
                f"labelled as two people but the faces say one: {row['a']} and {row['b']} (median distance "
                f"{row['median_distance']}, within one person typically {row['within_person']}); look at the photos and "
                f"pass --same-person {row['a'].split(':', 1)[1]}={row['b'].split(':', 1)[1]} if they are"
            )
        dist = ev.all_pair_distances(embeddings)
        i, j = ev.pair_indices(len(paths))
        d = dist[i, j]
        same = ids[i] == ids[j]
        genuine, impostor = d[same], d[~same]

        model = engine.model_name()
        if options["calibrate"]:
            fitted = fit_calibration(
                ids=ids, embeddings=embeddings, folds=options["folds"], seed=options["seed"]
            )
            threshold = fitted["threshold"]
        else:
            threshold = self._committed_threshold(options)
        tpr, fpr = ev.tar_far(genuine, impostor, threshold)
        result: dict[str, Any] = {
            "images": len(paths),
            "faces": faces,
            "pairs": len(d),
            "threshold": round(threshold, 4),
            "tpr": round(tpr, 4),
            "tnr": round(1 - fpr, 4),
            "balanced_accuracy": round((tpr + 1 - fpr) / 2, 4),
            "rank1": round(rank1(dist, ids), 4),
            "seconds_per_image": round(seconds, 3),
            "no_face": len(no_face),
            "people": len(np.unique(ids)),
            "genuine_pairs": int(same.sum()),
            "impostor_pairs": int((~same).sum()),
            "main_face": options["main_face"],
            "embedded": self.embedded,
            "same_person": list(options["same_person"]),
            "suspected_same_person": suspects,
        }
        n_people = result["people"]
        if n_people >= options["folds"]:
            result["verification"] = verification_table(
                d, same, ids[i], ids[j], ids, options["folds"], options["seed"]
            )
            result["identification"] = identification_table(
                embeddings, ids, options["folds"], options["seed"]
            )
            self._print_tables(result)
        else:
            self.stdout.write(
                f"{n_people} people: too few for {options['folds']} person folds; 1:1/1:N tables skipped"
            )
        if options["calibrate"]:
            result["calibration"] = {
                k: fitted[k] for k in ("threshold", "operating_points", "fmr_at_index_size")
            }
            for name, point in fitted["fmr_at_index_size"].items():
                for size, row in point.items():
                    self.stdout.write(
                        f"{name} at {int(size):>11,} faces: distance {row['distance']:.4f}, per-comparison FMR "
                        f"{row['pair_fmr']:.2e}, expected strangers per search {row['strangers_per_search']:.3g}, "
                        f"TAR {row['tar']}"
                    )
            if options["write"]:
                write_calibration(model, fitted, result, sets, options)
                self.stdout.write(f"written to {calibration.CALIBRATION_FILE.name}")
        return result

    def _print_tables(self, result: dict[str, Any]) -> None:
        self.stdout.write(
            f"{result['images']} photos, {result['people']} people, no_face {result['no_face']}, "
            f"{result['genuine_pairs']:,} genuine and {result['impostor_pairs']:,} impostor pairs"
        )
        self.stdout.write(f"{'metric':<34} {'in-sample':>10} {'cross-validated by person':>26}")
        for row in result["verification"] + result["identification"]:
            cv = row["cv"] if row["cv"] is not None else "n/a"
            ins = row["in_sample"] if row["in_sample"] is not None else "n/a"
            extra = f"  ({row['note']})" if row.get("note") else ""
            self.stdout.write(f"{row['metric']:<34} {ins!s:>10} {cv!s:>26}{extra}")


# --- one person under two labels ------------------------------------------------------------


def merge_same_person(people: list[str], aliases: list[str]) -> list[str]:
    """Labels (``set:name``) with each ``A=B`` alias's B relabelled as A, whichever sets they are in.

    Labelled sets drawn from public photos share people (the same actor in two sets): without this
    their cross-set pairs count as impostors at genuine distances and poison the false-match tail.
    """
    by_name: dict[str, list[str]] = {}
    for label in dict.fromkeys(people):
        by_name.setdefault(label.split(":", 1)[1], []).append(label)
    mapping: dict[str, str] = {}
    for alias in aliases:
        a, sep, b = alias.partition("=")
        a, b = a.strip(), b.strip()
        if not sep or not a or not b or a == b:
            raise CommandError(f"--same-person takes A=B with two different labels, not {alias!r}")
        for name in (a, b):
            if name not in by_name:
                raise CommandError(
                    f"--same-person {alias}: no person labelled {name!r} in the sets given"
                )
        target = mapping.get(by_name[a][0], by_name[a][0])
        for label in by_name[a] + by_name[b]:
            mapping[label] = target
    return [mapping.get(label, label) for label in people]


def suspected_same_person(embeddings: np.ndarray, ids: np.ndarray) -> list[dict[str, Any]]:
    """Pairs of labels whose faces are as close as one person's usually are: a label error to check.

    A pair is reported when the median distance between its photos is at most the 95th percentile of
    the per-person median distances (so only as close as most people are to themselves).
    """
    vectors: dict[str, list[np.ndarray]] = {}
    for e, label in zip(embeddings, ids, strict=True):
        if np.all(np.isfinite(e)):  # a photo with no face is a NaN row
            vectors.setdefault(str(label), []).append(
                np.asarray(e, dtype=np.float64) / np.linalg.norm(e)
            )
    groups = {k: np.stack(v) for k, v in vectors.items()}
    within = []
    for v in groups.values():
        if len(v) >= 2:
            d = 1 - v @ v.T
            within.append(float(np.median(d[np.triu_indices(len(v), 1)])))
    if len(within) < 5:
        return []
    limit, typical = float(np.percentile(within, 95)), float(np.median(within))
    labels = sorted(groups)
    out = []
    for x, a in enumerate(labels):
        for b in labels[x + 1 :]:
            median = float(np.median(1 - groups[a] @ groups[b].T))
            if median <= limit:
                out.append(
                    {
                        "a": a,
                        "b": b,
                        "median_distance": round(median, 4),
                        "within_person": round(typical, 4),
                    }
                )
    return out


# --- readers ---------------------------------------------------------------------------------


def read_identities(path: Path) -> dict[str, str]:
    if not path.exists():
        raise CommandError(f"{path} does not exist")
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"file", "identity"} <= set(reader.fieldnames):
            raise CommandError("the identities CSV needs the columns file,identity")
        return {row["file"]: row["identity"] for row in reader if row["file"] and row["identity"]}


def lfw_file(name: str, number: str) -> str:
    return f"{name}/{name}_{int(number):04d}.jpg"


def read_lfw_pairs(text: str) -> list[tuple[str, str, bool, int]]:
    """LFW ``pairs.txt``: a header ``folds n``, then per fold n matched ``Name i j`` and n
    mismatched ``Name1 i Name2 j`` lines. Returns (file1, file2, same, fold)."""
    lines = [line.split() for line in text.splitlines() if line.strip()]
    if not lines:
        raise CommandError("the pairs file is empty")
    header = lines[0]
    if len(header) == 2 and all(h.isdigit() for h in header):
        folds, per_class = int(header[0]), int(header[1])
    elif len(header) == 1 and header[0].isdigit():
        folds, per_class = 1, int(header[0])
    else:
        raise CommandError(
            f"the first line of a pairs.txt is 'folds pairs-per-class', not {' '.join(header)!r}"
        )
    body = lines[1:]
    if len(body) != folds * 2 * per_class:
        raise CommandError(
            f"the header promises {folds}x2x{per_class} pairs but the file has {len(body)}"
        )
    out = []
    for k, parts in enumerate(body):
        fold, matched = k // (2 * per_class), (k % (2 * per_class)) < per_class
        number = re.compile(r"^\d+$")
        if matched and len(parts) == 3 and number.match(parts[1]) and number.match(parts[2]):
            out.append((lfw_file(parts[0], parts[1]), lfw_file(parts[0], parts[2]), True, fold))
        elif not matched and len(parts) == 4 and number.match(parts[1]) and number.match(parts[3]):
            out.append((lfw_file(parts[0], parts[1]), lfw_file(parts[2], parts[3]), False, fold))
        else:
            kind = "matched 'Name n1 n2'" if matched else "mismatched 'Name1 n1 Name2 n2'"
            raise CommandError(f"pairs line {k + 2} should be a {kind} pair: {' '.join(parts)!r}")
    return out


def read_pairs_csv(text: str, default_folds: int = 10) -> list[tuple[str, str, bool, int]]:
    """CSV ``file1,file2,same[,fold]``; without a fold column, pairs go round-robin to 10 folds."""
    reader = csv.DictReader(text.splitlines())
    if not reader.fieldnames or not {"file1", "file2", "same"} <= set(reader.fieldnames):
        raise CommandError("the pairs CSV needs the columns file1,file2,same[,fold]")
    truth = {"1": True, "yes": True, "true": True, "0": False, "no": False, "false": False}
    out = []
    for k, row in enumerate(reader):
        flag = (row["same"] or "").strip().lower()
        if flag not in truth:
            raise CommandError(
                f"pairs CSV row {k + 2}: same must be 1/0, yes/no or true/false, not {row['same']!r}"
            )
        fold_text = (row.get("fold") or "").strip()
        if fold_text and not fold_text.isdigit():
            raise CommandError(
                f"pairs CSV row {k + 2}: fold must be a whole number, not {fold_text!r}"
            )
        out.append(
            (
                row["file1"],
                row["file2"],
                truth[flag],
                int(fold_text) if fold_text else k % default_folds,
            )
        )
    if not out:
        raise CommandError("the pairs CSV has no pairs")
    return out


# --- metrics over a labelled set ----------------------------------------------------------------


def rank1(dist: np.ndarray, ids: np.ndarray) -> float:
    """Leave-one-out: does each photo's nearest other photo show the same person? A photo with no
    face (or whose nearest is only faceless) counts as a miss."""
    counts: dict[str, int] = {}
    for p in ids.tolist():
        counts[p] = counts.get(p, 0) + 1
    hits = total = 0
    for k in range(len(ids)):
        if counts[ids[k]] < 2:
            continue
        total += 1
        row = dist[k].copy()
        row[k] = np.inf
        nearest = int(np.argmin(row))
        hits += bool(np.isfinite(row[nearest]) and ids[nearest] == ids[k])
    return hits / total if total else 0.0


def _r(x: Any, digits: int = 4) -> float | None:
    return None if x is None else round(float(x), digits)


def verification_table(
    d: np.ndarray,
    same: np.ndarray,
    id_a: np.ndarray,
    id_b: np.ndarray,
    ids: np.ndarray,
    folds: int,
    seed: int,
) -> list[dict[str, Any]]:
    """TAR at each FAR: in-sample (threshold fitted on all pairs) and cross-validated by person
    (threshold fitted on the impostor pairs of the other folds' people, measured on pairs whose two
    photos are both of held-out people; pooled over folds)."""
    fold_of = dict(zip(ids.tolist(), ev.person_folds(ids, folds, seed).tolist(), strict=False))
    fa = np.array([fold_of[p] for p in id_a.tolist()])
    fb = np.array([fold_of[p] for p in id_b.tolist()])
    rows = []
    for far in FARS:
        tar_in, _ = ev.tar_at_far(d[same], d[~same], far)
        passes = mated = impostors = tested = 0.0
        for f in range(folds):
            train = (fa != f) & (fb != f)
            test = (fa == f) & (fb == f)
            t = ev.threshold_at_far(d[train & ~same], far)
            mated += float(np.sum(d[test & same] <= t))
            tested += float(np.sum(test & same))
            passes += float(np.sum(d[test & ~same] <= t))
            impostors += float(np.sum(test & ~same))
        rows.append(
            {
                "metric": f"TAR at FAR {far:g} (1:1)",
                "in_sample": _r(tar_in),
                "cv": _r(mated / tested if tested else None),
                "cv_far": _r(passes / impostors if impostors else None, 6),
                "cv_pairs": {"genuine": int(tested), "impostor": int(impostors)},
            }
        )
    return rows


def _gallery_draw(
    ids: np.ndarray, size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """One open-set split: ``size`` people enrolled with one random photo each; returns
    (gallery photo indices, probe photo indices): every other photo is a probe."""
    people = np.unique(ids)
    enrolled = rng.choice(people, size=size, replace=False)
    gallery = np.array([rng.choice(np.flatnonzero(ids == p)) for p in enrolled])
    probes = np.setdiff1d(np.arange(len(ids)), gallery)
    return gallery, probes


def identification_table(
    embeddings: np.ndarray, ids: np.ndarray, folds: int, seed: int
) -> list[dict[str, Any]]:
    """FNIR at FPIR 1 %, rank any, for each gallery size, averaged over random gallery draws.

    In-sample: the threshold puts exactly 1 % of this draw's non-mated probes over it.
    Cross-validated by person: for each person fold, the threshold comes from the other folds'
    impostor pairs only (the per-comparison FMR that gives FPIR 1 % against N entries, 1-(1-FMR)^N),
    and FPIR/FNIR are measured on the held-out people's probes (pooled over folds).
    """
    people = np.unique(ids)
    dist = ev.all_pair_distances(embeddings)
    i, j = ev.pair_indices(len(ids))
    fold_of = dict(zip(people.tolist(), ev.person_folds(people, folds, seed).tolist(), strict=True))
    photo_fold = np.array([fold_of[p] for p in ids.tolist()])
    rows: list[dict[str, Any]] = []
    for size in GALLERY_SIZES:
        metric = f"FNIR at FPIR {FPIR:.0%}, gallery {size:,} (1:N)"
        if len(people) < size + 1:
            rows.append(
                {
                    "metric": metric,
                    "in_sample": None,
                    "cv": None,
                    "note": f"n/a: needs at least {size + 1:,} labelled people (a gallery of {size:,} and non-mated "
                    f"probes); these sets have {len(people)}. Synthetic padding would not be a real-face figure.",
                }
            )
            continue
        # Thresholds per fold from the other folds' impostor pairs (independent of the draw).
        pair_fmr = ev.fmr_for_fpir(FPIR, size)
        thresholds = []
        for f in range(folds):
            train = (photo_fold[i] != f) & (photo_fold[j] != f) & (ids[i] != ids[j])
            thresholds.append(ev.threshold_at_far(dist[i, j][train], pair_fmr))
        rng = np.random.default_rng(seed)
        fnir_in, fnir_cv, fpir_cv, fpir_in_t = [], [], [], []
        for _ in range(OPEN_SET_DRAWS):
            gallery, probes = _gallery_draw(ids, size, rng)
            scores = ev.open_set_scores(
                embeddings[gallery], ids[gallery], embeddings[probes], ids[probes]
            )
            fnir, t_in = ev.fnir_at_fpir(scores, FPIR)
            fnir_in.append(fnir)
            fpir_in_t.append(t_in)
            mated = np.isin(ids[probes], ids[gallery])
            fp = fn = n_nm = n_m = 0.0
            for f in range(folds):
                held = photo_fold[probes] == f
                mated_held = held[mated]
                nonmated_held = held[~mated]
                t = thresholds[f]
                fn += float(np.sum(~(scores.mate_distance[mated_held] <= t)))
                n_m += float(mated_held.sum())
                fp += float(np.sum(scores.nonmated_best[nonmated_held] <= t))
                n_nm += float(nonmated_held.sum())
            fnir_cv.append(fn / n_m if n_m else np.nan)
            fpir_cv.append(fp / n_nm if n_nm else np.nan)
        rows.append(
            {
                "metric": metric,
                "in_sample": _r(np.mean(fnir_in)),
                "cv": _r(np.nanmean(fnir_cv)),
                "cv_fpir": _r(np.nanmean(fpir_cv)),
                "draws": OPEN_SET_DRAWS,
                "note": f"cv FPIR measured {np.nanmean(fpir_cv):.3f}",
            }
        )
    return rows


# --- calibration ---------------------------------------------------------------------------------

CURVE_FMRS = (3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 3e-6, 1e-6)
INDEX_SIZES = (10_000, 1_000_000, 100_000_000)


def fit_calibration(
    *, ids: np.ndarray, embeddings: np.ndarray, folds: int, seed: int
) -> dict[str, Any]:
    """The FMR(d) curve (with person-level cross-validated checks), its tail fit, the operating
    points and the confidence curve, from all pairs of the labelled photos."""
    dist = ev.all_pair_distances(embeddings)
    i, j = ev.pair_indices(len(ids))
    d = dist[i, j]
    same = ids[i] == ids[j]
    genuine, impostor = d[same], d[~same]
    fold_of = dict(
        zip(
            np.unique(ids).tolist(),
            ev.person_folds(np.unique(ids), folds, seed).tolist(),
            strict=True,
        )
    )
    fa = np.array([fold_of[p] for p in ids[i].tolist()])
    fb = np.array([fold_of[p] for p in ids[j].tolist()])

    curve: list[dict[str, Any]] = []
    for target in CURVE_FMRS:
        if target * len(impostor) < 1:
            break  # not resolvable on this many impostor pairs
        t = ev.threshold_at_far(impostor, target)
        tar, fmr = ev.tar_far(genuine, impostor, t)
        g_hit = g_n = i_hit = i_n = 0.0
        for f in range(folds):
            train = (fa != f) & (fb != f)
            test = (fa == f) & (fb == f)
            tf = ev.threshold_at_far(d[train & ~same], target)
            g_hit += float(np.sum(d[test & same] <= tf))
            g_n += float(np.sum(test & same))
            i_hit += float(np.sum(d[test & ~same] <= tf))
            i_n += float(np.sum(test & ~same))
        curve.append(
            {
                "fmr_target": target,
                "distance": round(t, 5),
                "fmr": round(fmr, 8),
                "tar": round(tar, 4),
                "cv_fmr": round(i_hit / i_n, 8) if i_n else None,
                "cv_tar": round(g_hit / g_n, 4) if g_n else None,
            }
        )
    a, b = ev.fit_lower_tail(impostor)
    tail = {
        "probit_intercept": round(a, 5),
        "probit_slope": round(b, 5),
        "fitted_on": f"the lowest 1 % of {len(impostor):,} impostor distances: a normal tail, "
        "probit(FMR) linear in distance (least squares)",
        "note": "used only below the smallest FMR measured in fmr_curve: an extrapolation, not a measurement; "
        "thresholds have a floor of 0",
    }
    finite = np.isfinite(d)
    slope, midpoint = calibration.fit_confidence(
        d[finite & same], d[finite & ~same], curve[3]["distance"]
    )
    cv_pred = np.zeros(int(finite.sum()))
    dfin, sfin = d[finite], same[finite]
    ffin_a, ffin_b = fa[finite], fb[finite]
    tested = np.zeros(len(dfin), bool)
    for f in range(folds):
        train = (ffin_a != f) & (ffin_b != f)
        test = (ffin_a == f) & (ffin_b == f)
        s_f, m_f = calibration.fit_confidence(
            dfin[train & sfin], dfin[train & ~sfin], curve[3]["distance"]
        )
        z = np.clip(s_f * (dfin[test] - m_f), -60, 60)
        cv_pred[test] = 1 / (1 + np.exp(z))
        tested |= test
    cv_rel = ev.reliability(dfin[tested], sfin[tested], cv_pred[tested])
    people = len(np.unique(ids))
    fitted: dict[str, Any] = {
        "threshold": curve[3]["distance"]
        if len(curve) > 3
        else ev.threshold_at_far(impostor, 1e-3),
        "fmr_curve": curve,
        "tail": tail,
        "confidence": {
            "slope": round(slope, 4),
            "midpoint": round(midpoint, 5),
            "pairs": int(finite.sum()),
            "people": people,
            "meaning": (
                f"Estimated probability that the two faces are the same person, assuming a same-person and a "
                f"different-person pair are equally likely beforehand; fitted on {int(finite.sum()):,} labelled pairs "
                f"of {people} people"
            ),
            "cross_validated": {
                "folds": folds,
                "by": "person",
                **{k: round(v, 4) for k, v in cv_rel.items()},
            },
        },
        "genuine": genuine,
        "impostor": impostor,
    }
    fitted["operating_points"] = dict(calibration.DEFAULT_OPERATING_POINTS)
    cal = calibration.Calibration(
        model="",
        threshold=fitted["threshold"],
        slope=slope,
        midpoint=midpoint,
        fmr_curve=tuple((r["distance"], r["fmr"]) for r in curve),
        tail=(a, b),
        operating_points=fitted["operating_points"],
    )
    table: dict[str, dict[str, dict[str, Any]]] = {}
    for name in fitted["operating_points"]:
        table[name] = {}
        for size in INDEX_SIZES:
            t = cal.threshold_for(size, point=name)
            pair_fmr = cal.fmr_at(t)
            tar = ev.tar_far(genuine, impostor, t)[0]
            table[name][str(size)] = {
                "distance": round(t, 5),
                "pair_fmr": float(f"{pair_fmr:.3g}"),
                "strangers_per_search": float(f"{pair_fmr * size:.3g}"),
                "extrapolated": bool(pair_fmr < curve[-1]["fmr"]),
                "tar": round(tar, 4),
            }
    fitted["fmr_at_index_size"] = table
    return fitted


def write_calibration(
    model: str,
    fitted: dict[str, Any],
    result: dict[str, Any],
    sets: list[dict[str, Any]],
    options: dict[str, Any],
) -> None:
    data = (
        json.loads(calibration.CALIBRATION_FILE.read_text())
        if calibration.CALIBRATION_FILE.exists()
        else {}
    )
    data[model] = {
        "threshold": round(fitted["threshold"], 5),
        "slope": fitted["confidence"]["slope"],
        "midpoint": fitted["confidence"]["midpoint"],
        "threshold_means": "distance at a per-comparison FMR of 1e-3 (the strict point's loosest value)",
        "obtained_from": {
            "sets": sets,
            "photos": result["images"],
            "people": result["people"],
            "no_face": result["no_face"],
            "genuine_pairs": result["genuine_pairs"],
            "impostor_pairs": result["impostor_pairs"],
            "person_folds": options["folds"],
            "seed": options["seed"],
            "main_face": options["main_face"],
            "same_person": list(options["same_person"]),
            "pipeline_version": pipeline_version(),
            "command": "manage.py faces_evaluate --images ../shared/faces/images --identities "
            "../shared/faces/identities.csv --images ../shared/faces-lfw/images --identities "
            "../shared/faces-lfw/identities.csv --same-person person01=Angelina_Jolie "
            "--same-person person02=Jennifer_Aniston --calibrate --write",
        },
        "operating_points": fitted["operating_points"],
        "fmr_curve": fitted["fmr_curve"],
        "tail": fitted["tail"],
        "confidence": fitted["confidence"],
        "fmr_at_index_size": fitted["fmr_at_index_size"],
        "evaluation": {
            "verification": result.get("verification"),
            "identification": result.get("identification"),
        },
    }
    calibration.CALIBRATION_FILE.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    calibration._load.cache_clear()
