"""Reading labelled photo sets: identity CSVs, LFW's pairs.txt or a pairs CSV, and the same-person
checks (aliases merged, suspected duplicates listed) made before evaluating.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import numpy as np
from django.core.management.base import CommandError


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
