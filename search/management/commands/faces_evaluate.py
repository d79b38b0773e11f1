from __future__ import annotations

import csv
import json
import time
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
from django.core.management.base import BaseCommand, CommandError, CommandParser

from search import calibration, engine


class Command(BaseCommand):
    help = (
        "Run the real face pipeline on labelled photos and print one JSON line: images, faces, pairs, "
        "threshold, tpr, tnr, balanced_accuracy, rank1, seconds_per_image. --calibrate chooses the "
        "threshold (and the confidence curve) on this data; --write stores them for searches."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--images", required=True, help="folder of photos")
        parser.add_argument("--identities", required=True, help="CSV with columns file,identity")
        parser.add_argument("--calibrate", action="store_true")
        parser.add_argument("--write", action="store_true", help="with --calibrate: save to search/calibration.json")
        parser.add_argument("--threshold", type=float, help="evaluate at this threshold instead of the stored one")

    def handle(self, *args: Any, **options: Any) -> None:
        folder = Path(options["images"])
        labels = self._labels(Path(options["identities"]))
        model = engine.model_name()
        embeddings: dict[str, np.ndarray] = {}
        faces = 0
        engine.warm_up()  # model loading is not part of the per-image time
        started = time.perf_counter()
        for name in labels:
            path = folder / name
            if not path.exists():
                raise CommandError(f"{path} is listed in the identities file but missing")
            try:
                analysis = engine.analyse(engine.decode_image(path.read_bytes()))
            except engine.ImageRejected as exc:
                self.stderr.write(f"{name}: {exc.message}")
                continue
            faces += len(analysis.faces)
            if analysis.faces:
                # A labelled photo shows its person as the main face: take the largest one.
                main = max(analysis.faces, key=lambda f: f.box[2] * f.box[3])
                embeddings[name] = main.embedding
            else:
                self.stderr.write(f"{name}: no face found")
        seconds = (time.perf_counter() - started) / max(1, len(labels))

        names = sorted(embeddings)
        matrix = np.stack([embeddings[n] for n in names])
        distances = 1.0 - matrix @ matrix.T
        same: list[float] = []
        different: list[float] = []
        for i, j in combinations(range(len(names)), 2):
            (same if labels[names[i]] == labels[names[j]] else different).append(distances[i, j])
        same_arr, diff_arr = np.array(same), np.array(different)

        if options["calibrate"]:
            threshold = calibration.choose_threshold(same_arr, diff_arr)
            slope, midpoint = calibration.fit_confidence(same_arr, diff_arr, threshold)
        elif options["threshold"] is not None:
            threshold, slope, midpoint = options["threshold"], 0.0, 0.0
        else:
            stored = calibration.calibration_for(model)
            threshold, slope, midpoint = stored.threshold, stored.slope, stored.midpoint

        tpr = float((same_arr <= threshold).mean()) if len(same_arr) else 0.0
        tnr = float((diff_arr > threshold).mean()) if len(diff_arr) else 0.0
        result = {
            "images": len(labels),
            "faces": faces,
            "pairs": len(same_arr) + len(diff_arr),
            "threshold": round(threshold, 4),
            "tpr": round(tpr, 4),
            "tnr": round(tnr, 4),
            "balanced_accuracy": round((tpr + tnr) / 2, 4),
            "rank1": round(self._rank1(names, labels, distances), 4),
            "seconds_per_image": round(seconds, 3),
        }
        if options["calibrate"] and options["write"]:
            self._write(model, threshold, slope, midpoint, result, same_arr, diff_arr)
        self.stdout.write(json.dumps(result))

    @staticmethod
    def _labels(path: Path) -> dict[str, str]:
        if not path.exists():
            raise CommandError(f"{path} does not exist")
        with path.open(newline="") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or not {"file", "identity"} <= set(reader.fieldnames):
                raise CommandError("the identities CSV needs the columns file,identity")
            return {row["file"]: row["identity"] for row in reader if row["file"] and row["identity"]}

    @staticmethod
    def _rank1(names: list[str], labels: dict[str, str], distances: np.ndarray) -> float:
        """Leave-one-out: does each photo's nearest other photo show the same person?"""
        counts: dict[str, int] = {}
        for n in names:
            counts[labels[n]] = counts.get(labels[n], 0) + 1
        hits = total = 0
        for i, name in enumerate(names):
            if counts[labels[name]] < 2:
                continue  # nobody to find
            row = distances[i].copy()
            row[i] = np.inf
            total += 1
            hits += labels[names[int(np.argmin(row))]] == labels[name]
        return hits / total if total else 0.0

    @staticmethod
    def _write(
        model: str,
        threshold: float,
        slope: float,
        midpoint: float,
        result: dict[str, Any],
        same: np.ndarray,
        different: np.ndarray,
    ) -> None:
        data = json.loads(calibration.CALIBRATION_FILE.read_text()) if calibration.CALIBRATION_FILE.exists() else {}
        data[model] = {
            "threshold": round(threshold, 5),
            "slope": round(slope, 4),
            "midpoint": round(midpoint, 5),
            "calibrated_on": {k: result[k] for k in ("images", "faces", "pairs", "tpr", "tnr", "balanced_accuracy", "rank1")},
            "same_distance_max": round(float(same.max()), 5),
            "different_distance_min": round(float(different.min()), 5),
        }
        calibration.CALIBRATION_FILE.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        calibration._load.cache_clear()
