"""Face-recognition metrics as the field reports them: pure numpy, no Django, no face model.

Distances are cosine distances (smaller = more alike); a pair is predicted "same person" when its
distance is at or under the threshold. A photo in which no face was found gives its pairs the
distance ``inf``: they are predicted "different" and stay in every denominator.

Definitions follow LFW (View 2 protocol: threshold chosen on nine folds, accuracy on the tenth) and
NIST FRVT/FRTE (1:1 TAR at a FAR; 1:N open-set FNIR at an FPIR).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

NO_FACE = np.inf


# --- 1:1 verification ---------------------------------------------------------------------


def accuracy_at(distances: np.ndarray, same: np.ndarray, threshold: float) -> float:
    """Fraction of pairs classified right at ``threshold`` (same when distance <= threshold)."""
    d, s = np.asarray(distances, float), np.asarray(same, bool)
    if len(d) == 0:
        raise ValueError("no pairs")
    return float(np.mean((d <= threshold) == s))


def best_accuracy_threshold(distances: np.ndarray, same: np.ndarray) -> tuple[float, float]:
    """(threshold, accuracy): the threshold of best accuracy on these pairs.

    Candidates are the midpoints between consecutive distinct finite distances (and one below the
    smallest); among equally good ones the middle of the widest best run is taken.
    """
    d, s = np.asarray(distances, float), np.asarray(same, bool)
    if len(d) == 0:
        raise ValueError("no pairs")
    finite = np.unique(d[np.isfinite(d)])
    if len(finite) == 0:
        return 0.0, float(np.mean(~s))
    cands = np.concatenate(
        [[finite[0] - 1e-6], (finite[:-1] + finite[1:]) / 2, [finite[-1] + 1e-6]]
    )
    # correct(t) = #same with d <= t + #different with d > t, by sorted counts.
    same_sorted = np.sort(d[s])
    diff_sorted = np.sort(d[~s])
    correct = np.searchsorted(same_sorted, cands, side="right") + (
        len(diff_sorted) - np.searchsorted(diff_sorted, cands, side="right")
    )
    best = correct.max()
    on = np.flatnonzero(correct == best)
    runs = np.split(on, np.flatnonzero(np.diff(on) > 1) + 1)
    run = max(runs, key=lambda r: cands[r[-1]] - cands[r[0]])
    return float((cands[run[0]] + cands[run[-1]]) / 2), float(best / len(d))


@dataclass(frozen=True)
class FoldResult:
    fold: int
    threshold: float  # chosen on the other folds
    accuracy: float  # on this fold
    pairs: int


def fold_accuracies(distances: np.ndarray, same: np.ndarray, folds: np.ndarray) -> list[FoldResult]:
    """LFW protocol: for each fold, the best-accuracy threshold of the other folds, scored on it."""
    d, s, f = np.asarray(distances, float), np.asarray(same, bool), np.asarray(folds)
    labels = np.unique(f)
    if len(labels) < 2:
        raise ValueError("the fold protocol needs at least two folds")
    out = []
    for fold in labels:
        test = f == fold
        threshold, _ = best_accuracy_threshold(d[~test], s[~test])
        out.append(
            FoldResult(
                int(fold), threshold, accuracy_at(d[test], s[test], threshold), int(test.sum())
            )
        )
    return out


def mean_sd(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1, as LFW results are reported)."""
    arr = np.asarray(values, float)
    return float(arr.mean()), float(arr.std(ddof=1)) if len(arr) > 1 else 0.0


def threshold_at_far(impostor: np.ndarray, far: float) -> float:
    """The largest threshold whose false-accept rate on these impostor distances is <= ``far``.

    It sits just under the k-th smallest impostor distance, k = floor(far * n) + 1, so that at most
    floor(far * n) impostors pass. Ties at the boundary are kept out.
    """
    imp = np.sort(np.asarray(impostor, float))
    n = len(imp)
    if n == 0:
        raise ValueError("no impostor pairs")
    k = int(np.floor(far * n + 1e-9))  # impostors allowed through
    if k >= n:
        return float(imp[-1]) if np.isfinite(imp[-1]) else 2.0
    boundary = imp[k]
    below = imp[:k]
    if not np.isfinite(boundary):
        return float(below[-1]) if k else 0.0
    return float(np.nextafter(boundary, -np.inf))


def tar_far(genuine: np.ndarray, impostor: np.ndarray, threshold: float) -> tuple[float, float]:
    """(TAR, FAR) at ``threshold``."""
    g, i = np.asarray(genuine, float), np.asarray(impostor, float)
    return float(np.mean(g <= threshold)) if len(g) else 0.0, float(np.mean(i <= threshold)) if len(
        i
    ) else 0.0


def tar_at_far(genuine: np.ndarray, impostor: np.ndarray, far: float) -> tuple[float, float]:
    """(TAR, threshold) at the threshold fitted on these impostors for ``far`` (in-sample)."""
    t = threshold_at_far(impostor, far)
    return tar_far(genuine, impostor, t)[0], t


def fmr_table(
    genuine: np.ndarray, impostor: np.ndarray, fmrs: list[float]
) -> list[dict[str, float]]:
    """Distance → FMR, TAR at the thresholds that reach each target FMR on these pairs."""
    rows = []
    for target in fmrs:
        t = threshold_at_far(impostor, target)
        tar, fmr = tar_far(genuine, impostor, t)
        rows.append({"fmr_target": target, "distance": t, "fmr": fmr, "tar": tar})
    return rows


def fit_lower_tail(
    impostor: np.ndarray, *, tail_fraction: float = 1e-2, min_points: int = 20
) -> tuple[float, float]:
    """Fit a normal lower tail to the impostor distances: probit(FMR(d)) = a + b * d.

    Least squares of the standard-normal quantile of the empirical FMR on the distance, over the
    lowest ``tail_fraction`` of impostor distances. (On the shared sets, fitted on FMR 1e-4…1e-2, it
    predicts the measured distance at FMR 1e-5 and 3e-6 within 0.002; an exponential tail,
    log10 FMR linear in d, misses by 0.007…0.013.)
    """
    imp = np.sort(np.asarray(impostor, float))
    imp = imp[np.isfinite(imp)]
    n = len(imp)
    if n < min_points:
        raise ValueError(f"need at least {min_points} impostor pairs to fit a tail")
    k = min(n - 1, max(min_points, int(tail_fraction * n)))
    d = imp[:k]
    fmr = np.arange(1, k + 1) / n
    b, a = np.polyfit(d, ndtri(fmr), 1)
    return float(a), float(b)


# --- 1:N open-set identification ---------------------------------------------------------


@dataclass(frozen=True)
class OpenSet:
    """Scores of one open-set experiment: per mated probe, its mate's distance and whether the mate
    ranks first; per non-mated probe, its best (smallest) gallery distance."""

    mate_distance: np.ndarray  # mated probes: distance to their own gallery entry (inf: no face)
    nonmated_best: (
        np.ndarray
    )  # non-mated probes: smallest distance to any gallery entry (inf: no face)
    gallery_size: int


def open_set_scores(
    gallery: np.ndarray, gallery_ids: np.ndarray, probes: np.ndarray, probe_ids: np.ndarray
) -> OpenSet:
    """Distances of probes against a gallery of one entry per identity.

    ``gallery``/``probes``: (n, d) L2-normalised rows; a row of NaN is a photo with no face.
    A probe whose identity is in the gallery is mated; the others are non-mated.
    """
    g, p = np.asarray(gallery, float), np.asarray(probes, float)
    if len(set(gallery_ids.tolist())) != len(gallery_ids):
        raise ValueError("one gallery entry per identity")
    dist = 1.0 - p @ g.T
    dist = np.where(np.isnan(dist), NO_FACE, dist)
    index = {ident: i for i, ident in enumerate(gallery_ids.tolist())}
    mated = np.array([ident in index for ident in probe_ids.tolist()], dtype=bool)
    cols = np.array([index.get(ident, 0) for ident in probe_ids.tolist()])
    mate = dist[np.arange(len(p)), cols][mated] if len(p) else np.zeros(0)
    best = dist[~mated].min(axis=1) if (~mated).any() else np.zeros(0)
    return OpenSet(mate_distance=mate, nonmated_best=best, gallery_size=len(g))


def fpir_fnir(scores: OpenSet, threshold: float) -> tuple[float, float]:
    """(FPIR, FNIR) at ``threshold``, rank any: FPIR = share of non-mated probes with any gallery
    entry at or under the threshold; FNIR = share of mated probes whose mate is not at or under it."""
    fpir = float(np.mean(scores.nonmated_best <= threshold)) if len(scores.nonmated_best) else 0.0
    fnir = (
        float(np.mean(~(scores.mate_distance <= threshold))) if len(scores.mate_distance) else 0.0
    )
    return fpir, fnir


def fnir_at_fpir(scores: OpenSet, fpir: float) -> tuple[float, float]:
    """(FNIR, threshold) with the threshold fitted on these non-mated probes for ``fpir`` (in-sample)."""
    t = threshold_at_far(scores.nonmated_best, fpir)
    return fpir_fnir(scores, t)[1], t


def fmr_for_fpir(fpir: float, gallery_size: int) -> float:
    """Per-comparison FMR that gives ``fpir`` against ``gallery_size`` independent entries:
    1 - (1 - FMR) ** N = FPIR."""
    return float(1.0 - (1.0 - fpir) ** (1.0 / gallery_size))


# --- person-level folds --------------------------------------------------------------------


def person_folds(identities: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """A fold number per photo, with all photos of one person in the same fold."""
    people = np.unique(identities)
    if len(people) < k:
        raise ValueError(f"{k} folds need at least {k} people, not {len(people)}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(people)
    fold_of = {person: i % k for i, person in enumerate(order.tolist())}
    return np.array([fold_of[p] for p in identities.tolist()])


def pair_indices(n: int) -> tuple[np.ndarray, np.ndarray]:
    """All unordered pairs (i < j) of n photos."""
    return np.triu_indices(n, k=1)


def all_pair_distances(embeddings: np.ndarray) -> np.ndarray:
    """(n, n) cosine distances; rows of NaN (no face) give ``inf``."""
    e = np.asarray(embeddings, float)
    dist = 1.0 - e @ e.T
    return np.where(np.isnan(dist), NO_FACE, dist)


def reliability(
    distances: np.ndarray, same: np.ndarray, predicted: np.ndarray, bins: int = 10
) -> dict[str, float]:
    """Calibration of predicted P(same): class-balanced expected calibration error and log loss.

    Pairs are weighted so that same and different count half each, matching how the confidence is
    fitted (it answers for equal prior odds).
    """
    s = np.asarray(same, bool)
    p = np.clip(np.asarray(predicted, float), 1e-6, 1 - 1e-6)
    w = np.where(s, 0.5 / max(1, s.sum()), 0.5 / max(1, (~s).sum()))
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges) - 1, 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        m = which == b
        if m.any():
            wb = w[m].sum()
            ece += abs(np.sum(w[m] * s[m]) - np.sum(w[m] * p[m])) if wb else 0.0
    logloss = -float(np.sum(w * np.where(s, np.log(p), np.log(1 - p))))
    return {"ece": float(ece), "log_loss": logloss}
