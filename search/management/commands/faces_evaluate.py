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

The command reads options, embeds the photos and prints; the readers, the tables and the fitting
live in ``search.evaluation`` (``readers``, ``tables``, ``fitting``, ``metrics``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from django.core.management.base import BaseCommand, CommandError, CommandParser

from search import calibration, engine
from search import evaluation as ev
from search.evaluation.fitting import fit_calibration, write_calibration
from search.evaluation.readers import (
    merge_same_person,
    read_identities,
    read_lfw_pairs,
    read_pairs_csv,
    suspected_same_person,
)
from search.evaluation.tables import identification_table, rank1, verification_table
from search.evaluation_cache import MAIN_FACE_CHOICES, photo_faces


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
        return calibration.calibration_for(engine.model_name()).same_person_threshold()

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
