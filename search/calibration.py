"""Operating points and the distance→confidence mapping, calibrated on labelled photos.

``faces_evaluate --calibrate --write`` measures the false-match curve on labelled pairs (with a
normal-tail fit below what it resolves), fits the confidence curve (checked out of sample by
person) and stores them in ``search/calibration.json`` per model.

Two thresholds, two questions:

- ``search_threshold(index_size, point=...)``: one photo against the whole index (1:N). Every
  search compares the probe with ``index_size`` faces, so a fixed per-comparison false-match rate
  would give more strangers per search as the index grows: the threshold tightens with the index
  size to hold the operating point's ``strangers_per_search``. Customer searches use the "strict"
  point; subject requests add the looser "candidate" point.
- ``same_person_threshold()``: are these two faces the same person (1:1, or against a short list)?
  The repeat-search monitoring guard, the suppression list and the live capture's reference check
  ask this; the number of comparisons does not grow with the index, so it is one fixed distance, at
  a per-comparison false-match rate of 1e-3 (the stored ``threshold``).
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import ndtr, ndtri

CALIBRATION_FILE = Path(__file__).resolve().parent / "calibration.json"


# How each operating point is set: the expected number of strangers (different people) at or under
# the threshold in one search of ``index_size`` faces is pair FMR x index size; the per-comparison
# FMR is that target over the index size, never looser than ``max_pair_fmr`` and, where a point has
# one, never tighter than ``min_pair_fmr``. The strict point has no floor: it is NIST's FPIR of 1 %
# (a search of a person who is not indexed returns a match 1 time in 100), so in a large index this
# model shows analysts few matches rather than strangers. The candidate band keeps a floor because a
# missed face there stays indexed against its owner's objection; the DPO reviews it nearest first.
DEFAULT_OPERATING_POINTS: dict[str, dict[str, Any]] = {
    "strict": {
        "strangers_per_search": 0.01,
        "max_pair_fmr": 1e-3,
        "means": "shown to analysts as a match: about a 1 % chance that a search returns any stranger",
    },
    "candidate": {
        "strangers_per_search": 10.0,
        "max_pair_fmr": 1e-2,
        "min_pair_fmr": 1e-4,
        "means": (
            "the DPO's review band in subject requests: errs toward recall, about 10 strangers per request to review, "
            "never narrower than a per-comparison FMR of 1e-4 (in a 1M index, up to 100 strangers, nearest first)"
        ),
    },
}


@dataclass(frozen=True)
class Calibration:
    model: str
    threshold: float  # cosine distance at a per-comparison FMR of 1e-3: same_person_threshold()
    slope: float  # confidence = 1 / (1 + exp(slope * (distance - midpoint)))
    midpoint: float
    # (distance, FMR) measured on labelled impostor pairs, distance ascending.
    fmr_curve: tuple[tuple[float, float], ...] = ()
    tail: tuple[float, float] | None = None  # FMR = Phi(a + b * distance) below the measured curve
    # (distance, FMR, TAR) with the TAR cross-validated by person, where the file has it.
    tar_curve: tuple[tuple[float, float, float], ...] = ()
    operating_points: dict[str, dict[str, Any]] = field(
        default_factory=lambda: dict(DEFAULT_OPERATING_POINTS)
    )
    confidence_meaning: str = "Estimated probability that the two faces are the same person"

    def confidence(self, distance: float) -> float:
        z = self.slope * (distance - self.midpoint)
        z = max(-60.0, min(60.0, z))
        return 1.0 / (1.0 + math.exp(z))

    def _curve(self) -> tuple[np.ndarray, np.ndarray]:
        points = sorted(self.fmr_curve)
        return np.array([p[0] for p in points]), np.log10([max(p[1], 1e-300) for p in points])

    def fmr_at(self, distance: float) -> float:
        """Per-comparison false-match rate at ``distance``: measured where the curve reaches, the
        fitted tail below it."""
        if not self.fmr_curve:
            raise LookupError(
                "this calibration has no FMR curve: rerun faces_evaluate --calibrate --write"
            )
        dists, logs = self._curve()
        if distance < dists[0] and self.tail is not None:
            a, b = self.tail
            return float(min(10 ** logs[0], ndtr(a + b * distance)))
        return float(10 ** np.interp(distance, dists, logs))

    def tar_at(self, distance: float) -> tuple[float, bool] | None:
        """Share of true matches (same person) at or under ``distance``, cross-validated by person,
        interpolated on the measured curve: ``(tar, exact)``. Under the curve's smallest distance it is
        at most the smallest measured value (``exact`` False); ``None`` for a calibration without it."""
        rows = sorted((float(r[0]), float(r[2])) for r in self.tar_curve)
        if not rows:
            return None
        dists, tars = np.array([r[0] for r in rows]), np.array([r[1] for r in rows])
        if distance < dists[0]:
            return float(tars[0]), False
        return float(np.interp(distance, dists, tars)), True

    def same_person_threshold(self) -> float:
        """The distance under which two faces are taken for the same person, one comparison at a
        time (a per-comparison FMR of 1e-3): monitoring, suppression, the capture's reference."""
        return float(self.threshold)

    def search_threshold(self, index_size: int, *, point: str = "strict") -> float:
        """The distance threshold of an operating point for a search of ``index_size`` faces (1:N),
        tighter as the index grows so that the expected strangers per search stay the same."""
        if point not in self.operating_points:
            raise LookupError(
                f"no operating point {point!r}; known: {', '.join(sorted(self.operating_points))}"
            )
        if not self.fmr_curve:
            return self.threshold  # an old calibration file: one fixed threshold
        spec = self.operating_points[point]
        target = float(spec["strangers_per_search"]) / max(1, int(index_size))
        target = min(float(spec["max_pair_fmr"]), max(float(spec.get("min_pair_fmr", 0.0)), target))
        dists, logs = self._curve()
        log_target = math.log10(target)
        if log_target >= logs[0]:
            return float(np.interp(log_target, logs, dists))
        if self.tail is None:
            return float(dists[0])  # no extrapolation: the strictest measured point
        a, b = self.tail
        # A distance under 0 would match nothing but exact copies: 0 is the floor.
        return float(max(0.0, min(dists[0], (float(ndtri(target)) - a) / b)))


def _calibration_from(model: str, entry: dict[str, Any]) -> Calibration:
    curve = tuple((float(r["distance"]), float(r["fmr"])) for r in entry.get("fmr_curve", []))
    tail = entry.get("tail")
    confidence = entry.get("confidence", {})
    return Calibration(
        model=model,
        threshold=entry["threshold"],
        slope=entry["slope"],
        midpoint=entry["midpoint"],
        fmr_curve=curve,
        tar_curve=tuple(
            (float(r["distance"]), float(r["fmr"]), float(r["cv_tar"]))
            for r in entry.get("fmr_curve", [])
            if "cv_tar" in r
        ),
        tail=(float(tail["probit_intercept"]), float(tail["probit_slope"])) if tail else None,
        operating_points=entry.get("operating_points") or dict(DEFAULT_OPERATING_POINTS),
        confidence_meaning=confidence.get("meaning", Calibration.confidence_meaning),
    )


@functools.cache
def _load() -> dict[str, dict[str, Any]]:
    if not CALIBRATION_FILE.exists():
        return {}
    data: dict[str, dict[str, Any]] = json.loads(CALIBRATION_FILE.read_text())
    return data


def calibration_for(model: str) -> Calibration:
    entry = _load().get(model)
    if entry is None:
        raise LookupError(
            f"No calibration for face model {model!r}: run `manage.py faces_evaluate --calibrate --write`."
        )
    return _calibration_from(model, entry)


INDEX_SIZE_CACHE_SECONDS = 300


def index_size(model: str) -> int:
    """How many faces of ``model`` a search compares against: a count cached for a few minutes."""
    from django.core.cache import cache

    from search.models import Face

    key = f"search:index-size:{model}"
    size = cache.get(key)
    if size is None:
        size = Face.objects.filter(model=model).count()
        cache.set(key, size, INDEX_SIZE_CACHE_SECONDS)
    return int(size)


def choose_threshold(same: np.ndarray, different: np.ndarray) -> float:
    """The middle of the widest run of thresholds that reach the best balanced accuracy.

    Taking the middle of the plateau, not its edge, leaves the most margin on both sides for
    photos unlike the calibration set.
    """
    candidates = np.unique(np.concatenate([same, different]))
    mids = np.concatenate(
        [[candidates[0] - 1e-6], (candidates[:-1] + candidates[1:]) / 2, [candidates[-1] + 1e-6]]
    )
    scores = np.array([((same <= t).mean() + (different > t).mean()) / 2 for t in mids])
    best = scores.max()
    on_plateau = np.flatnonzero(np.isclose(scores, best))
    # The longest contiguous run of best thresholds.
    runs = np.split(on_plateau, np.flatnonzero(np.diff(on_plateau) > 1) + 1)
    run = max(runs, key=lambda r: mids[r[-1]] - mids[r[0]])
    low, high = mids[run[0]], mids[run[-1]]
    # Widen to the neighbouring data points: the plateau spans the gap between them.
    return float((low + high) / 2)


def fit_confidence(
    same: np.ndarray, different: np.ndarray, threshold: float
) -> tuple[float, float]:
    """Class-balanced logistic fit of P(same person | distance): (slope, midpoint).

    Minimises the class-balanced log loss with scipy's L-BFGS on standardised distances; a small L2
    penalty on the slope keeps the curve from becoming a step on separable data.
    """
    from scipy.optimize import minimize
    from scipy.special import expit, log_expit

    d = np.concatenate([same, different]).astype(float)
    y = np.concatenate([np.ones(len(same)), np.zeros(len(different))])
    w = np.concatenate(
        [np.full(len(same), 0.5 / len(same)), np.full(len(different), 0.5 / len(different))]
    )
    scale = float(np.std(d)) or 1.0
    x = (d - threshold) / scale
    penalty = 1e-4

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        a, b = theta
        z = a * x + b
        value = -np.sum(w * (y * log_expit(z) + (1 - y) * log_expit(-z))) + penalty * a * a / 2
        r = w * (expit(z) - y)
        return float(value), np.array([np.sum(r * x) + penalty * a, np.sum(r)])

    a, b = minimize(loss, np.array([-1.0, 0.0]), jac=True, method="L-BFGS-B").x
    slope = float(-a / scale)  # confidence = 1/(1+exp(slope*(d - midpoint)))
    midpoint = float(threshold - b * scale / a) if a else threshold
    return slope, midpoint
