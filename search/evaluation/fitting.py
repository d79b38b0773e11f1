"""Fitting the operating points and the confidence curve on evaluated embeddings, and writing them
to ``search/calibration.json``.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from search import calibration
from search.evaluation import metrics as ev
from search.evaluation_cache import pipeline_version

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
            t = cal.search_threshold(size, point=name)
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
