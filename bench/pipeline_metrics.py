"""Metrics for bench/pipeline.py: distance matrices, thresholds, person-disjoint cross-validation and
LFW view-2-like folds."""

from __future__ import annotations

import numpy as np

SEED = 20261128  # the person folds and pairs are drawn from it (bench/pipeline.py re-exports it)


def distance_matrix(embeddings: list[np.ndarray | None]) -> np.ndarray:
    """Cosine distances; +inf for any pair with a photo without a face (never accepted)."""
    dims = next(e.shape[0] for e in embeddings if e is not None)
    matrix = np.stack([e if e is not None else np.zeros(dims) for e in embeddings])
    dist = 1.0 - matrix @ matrix.T
    missing = np.array([e is None for e in embeddings])
    dist[missing, :] = np.inf
    dist[:, missing] = np.inf
    return dist


def best_balanced_threshold(genuine: np.ndarray, impostor: np.ndarray) -> float:
    finite = np.concatenate([genuine, impostor])
    candidates = np.unique(finite[np.isfinite(finite)])
    g, i = np.sort(genuine), np.sort(impostor)
    tpr = np.searchsorted(g, candidates, side="right") / len(g)
    tnr = 1.0 - np.searchsorted(i, candidates, side="right") / len(i)
    return float(candidates[int(np.argmax(tpr + tnr))])


def far_threshold(impostor: np.ndarray, far: float) -> float:
    """The largest threshold that accepts at most ``far`` of these impostor pairs."""
    ordered = np.sort(impostor)
    allowed = int(np.floor(far * len(ordered)))
    return float(ordered[allowed] - 1e-12) if allowed < len(ordered) else float(ordered[-1])


def person_folds(people: list[str], folds: int) -> dict[str, int]:
    rng = np.random.default_rng(SEED)
    order = sorted(set(people))
    rng.shuffle(order)
    return {person: index % folds for index, person in enumerate(order)}


def cross_validated(dist: np.ndarray, people: list[str], folds: int) -> dict[str, float]:
    """Person-level k-fold: thresholds from the other folds' people, figures on the held-out ones."""
    fold_of = person_folds(people, folds)
    fold = np.array([fold_of[p] for p in people])
    labels = np.array(people)
    upper = np.triu(np.ones_like(dist, dtype=bool), k=1)
    same = labels[:, None] == labels[None, :]
    pair_fold = np.where(fold[:, None] == fold[None, :], fold[:, None], -1)  # -1: pair across folds
    counts = {"tp": 0, "fn": 0, "tn": 0, "fp": 0}
    tar: dict[float, list[int]] = {
        1e-3: [0, 0, 0, 0],
        1e-4: [0, 0, 0, 0],
    }  # accepted, genuine, false acc, impostor
    for k in range(folds):
        train = upper & (fold[:, None] != k) & (fold[None, :] != k)
        test = upper & (pair_fold == k)
        g_train, i_train = dist[train & same], dist[train & ~same]
        g_test, i_test = dist[test & same], dist[test & ~same]
        threshold = best_balanced_threshold(g_train, i_train)
        counts["tp"] += int((g_test <= threshold).sum())
        counts["fn"] += int((g_test > threshold).sum())
        counts["tn"] += int((i_test > threshold).sum())
        counts["fp"] += int((i_test <= threshold).sum())
        for far, acc in tar.items():
            t = far_threshold(i_train, far)
            acc[0] += int((g_test <= t).sum())
            acc[1] += len(g_test)
            acc[2] += int((i_test <= t).sum())
            acc[3] += len(i_test)
    tpr = counts["tp"] / max(1, counts["tp"] + counts["fn"])
    tnr = counts["tn"] / max(1, counts["tn"] + counts["fp"])
    out = {"balanced_accuracy": (tpr + tnr) / 2, "tpr": tpr, "tnr": tnr}
    for far, acc in tar.items():
        out[f"tar_at_far_{far:.0e}"] = acc[0] / max(1, acc[1])
        out[f"measured_far_{far:.0e}"] = acc[2] / max(1, acc[3])
        out[f"impostor_pairs_{far:.0e}"] = acc[3]
    return out


def view2_like_pairs(
    people: list[str], folds: int = 10, per_fold: int = 300
) -> list[list[tuple[int, int, bool]]]:
    """LFW-View-2-like: folds of people, ``per_fold`` same and different pairs drawn in each."""
    rng = np.random.default_rng(SEED + 1)
    fold_of = person_folds(people, folds)
    result = []
    for k in range(folds):
        members = [i for i, p in enumerate(people) if fold_of[p] == k]
        by_person: dict[str, list[int]] = {}
        for i in members:
            by_person.setdefault(people[i], []).append(i)
        same_all = [
            (a, b) for idx in by_person.values() for x, a in enumerate(idx) for b in idx[x + 1 :]
        ]
        diff_all = [
            (a, b)
            for x, a in enumerate(members)
            for b in members[x + 1 :]
            if people[a] != people[b]
        ]
        size = min(per_fold, len(same_all))  # fewer where a fold's people have fewer same pairs
        same = [same_all[j] for j in rng.choice(len(same_all), size=size, replace=False)]
        diff = [diff_all[j] for j in rng.choice(len(diff_all), size=size, replace=False)]
        result.append([(a, b, True) for a, b in same] + [(a, b, False) for a, b in diff])
    return result


def view2_like(dist: np.ndarray, folds: list[list[tuple[int, int, bool]]]) -> dict[str, float]:
    accuracies = []
    for k, test in enumerate(folds):
        train = [pair for j, fold in enumerate(folds) if j != k for pair in fold]
        d_train = np.array([dist[a, b] for a, b, _ in train])
        y_train = np.array([s for _, _, s in train])
        candidates = np.unique(d_train[np.isfinite(d_train)])
        accuracy_at = [((d_train <= t) == y_train).mean() for t in candidates]
        threshold = candidates[int(np.argmax(accuracy_at))]
        d_test = np.array([dist[a, b] for a, b, _ in test])
        y_test = np.array([s for _, _, s in test])
        accuracies.append(float(((d_test <= threshold) == y_test).mean()))
    return {
        "view2_like_mean": float(np.mean(accuracies)),
        "view2_like_sd": float(np.std(accuracies, ddof=1)),
        "view2_like_pairs_per_fold": float(np.mean([len(fold) for fold in folds])),
    }
