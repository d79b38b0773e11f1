"""The tables ``faces_evaluate`` reports: 1:1 verification (TAR at a FAR) and 1:N open-set
identification (FNIR at an FPIR, galleries drawn per person), in-sample and cross-validated.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from search.evaluation import metrics as ev

FARS = (1e-3, 1e-4)


FPIR = 0.01


GALLERY_SIZES = (100, 1000)


OPEN_SET_DRAWS = 10


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
