"""Distance threshold and distance→confidence mapping, calibrated on labelled photos.

``faces_evaluate --calibrate --write`` fits them on a labelled set and stores them in
``search/calibration.json`` per model; searches read them from there.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CALIBRATION_FILE = Path(__file__).resolve().parent / "calibration.json"


@dataclass(frozen=True)
class Calibration:
    model: str
    threshold: float  # cosine distance at or under which two faces are taken as the same person
    slope: float  # confidence = 1 / (1 + exp(slope * (distance - midpoint)))
    midpoint: float

    def confidence(self, distance: float) -> float:
        z = self.slope * (distance - self.midpoint)
        z = max(-60.0, min(60.0, z))
        return 1.0 / (1.0 + math.exp(z))


@functools.cache
def _load() -> dict[str, dict[str, float]]:
    if not CALIBRATION_FILE.exists():
        return {}
    data: dict[str, dict[str, float]] = json.loads(CALIBRATION_FILE.read_text())
    return data


def calibration_for(model: str) -> Calibration:
    entry = _load().get(model)
    if entry is None:
        raise LookupError(f"No calibration for face model {model!r}: run `manage.py faces_evaluate --calibrate --write`.")
    return Calibration(model=model, threshold=entry["threshold"], slope=entry["slope"], midpoint=entry["midpoint"])


def choose_threshold(same: np.ndarray, different: np.ndarray) -> float:
    """The middle of the widest run of thresholds that reach the best balanced accuracy.

    Taking the middle of the plateau, not its edge, leaves the most margin on both sides for
    photos unlike the calibration set.
    """
    candidates = np.unique(np.concatenate([same, different]))
    mids = np.concatenate([[candidates[0] - 1e-6], (candidates[:-1] + candidates[1:]) / 2, [candidates[-1] + 1e-6]])
    scores = np.array([((same <= t).mean() + (different > t).mean()) / 2 for t in mids])
    best = scores.max()
    on_plateau = np.flatnonzero(np.isclose(scores, best))
    # The longest contiguous run of best thresholds.
    runs = np.split(on_plateau, np.flatnonzero(np.diff(on_plateau) > 1) + 1)
    run = max(runs, key=lambda r: mids[r[-1]] - mids[r[0]])
    low, high = mids[run[0]], mids[run[-1]]
    # Widen to the neighbouring data points: the plateau spans the gap between them.
    return float((low + high) / 2)


def fit_confidence(same: np.ndarray, different: np.ndarray, threshold: float) -> tuple[float, float]:
    """Class-balanced logistic fit of P(same person | distance), centred near the threshold.

    A small L2 penalty on the slope keeps the curve from becoming a step on separable data.
    """
    d = np.concatenate([same, different])
    y = np.concatenate([np.ones_like(same), np.zeros_like(different)])
    w = np.concatenate([np.full_like(same, 0.5 / len(same)), np.full_like(different, 0.5 / len(different))])
    scale = float(np.std(d)) or 1.0
    x = (d - threshold) / scale
    a, b = -1.0, 0.0  # logit = a * x + b
    penalty = 1e-3
    for _ in range(200):  # Newton's method
        p = 1 / (1 + np.exp(-(a * x + b)))
        g_a = np.sum(w * (p - y) * x) + penalty * a
        g_b = np.sum(w * (p - y))
        s = w * p * (1 - p)
        h = np.array([[np.sum(s * x * x) + penalty, np.sum(s * x)], [np.sum(s * x), np.sum(s) + 1e-9]])
        step = np.linalg.solve(h, np.array([g_a, g_b]))
        a, b = a - step[0], b - step[1]
        if np.abs(step).max() < 1e-9:
            break
    slope = float(-a / scale)  # confidence = 1/(1+exp(slope*(d - midpoint)))
    midpoint = float(threshold + b * scale / a) if a else threshold
    return slope, midpoint
