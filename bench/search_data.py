"""Realistic synthetic face embeddings for bench/search.py, fitted to real photos.

``fit`` embeds ../shared/faces-lfw and ../shared/faces with the product's pipeline
(``search.engine.analyse``; for LFW the face nearest the image centre, as that README says),
then fits two Gaussians in the 128-d embedding space:

- identity centres: mean and covariance of the per-person mean embeddings, less the part of
  that spread the within-person noise explains (``Sigma_w / n_i``), eigenvalues clipped at 0;
- within-person spread: covariance of each photo's residual from its person's mean, scaled by
  ``n/(n-1)`` because the person's mean is itself estimated from the same photos.

Only these parameters (``bench/data/face_distribution.npz``: two means, two covariances, a few
counts) are stored, never an embedding of a photo. ``sample`` draws N faces as identities x photos
with photo counts per person from a zeta (Zipf) law with exponent 2.4, which matches the full LFW
(5,749 people, 13,233 photos, 71 % of people with one photo), and L2-normalises them.

    .venv/bin/python bench/search_data.py embed --per-person 4 --shard 0/2   # and 1/2: ~1 s a photo
    .venv/bin/python bench/search_data.py fit      # fit, store the parameters, print the check
    .venv/bin/python bench/search_data.py check    # same/different distance quantiles, real vs synthetic
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BASE_DIR = Path(__file__).resolve().parent.parent
PARAMS_PATH = BASE_DIR / "bench" / "data" / "face_distribution.npz"
# Embeddings of the real photos are kept outside the repository (ignored .data/), only to check the fit.
REAL_CACHE = BASE_DIR / ".data" / "bench" / "real_embeddings.npz"
SOURCES = (BASE_DIR.parent / "shared" / "faces-lfw", BASE_DIR.parent / "shared" / "faces")
ZIPF_EXPONENT = 2.4
MAX_PHOTOS_PER_PERSON = 100
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


def normalise(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


# --- fitting ------------------------------------------------------------------


def labelled_photos(per_person: int) -> list[tuple[Path, str]]:
    """(photo, person) for every labelled photo, at most ``per_person`` of each person."""
    photos: list[tuple[Path, str]] = []
    for source in SOURCES:
        seen: dict[str, int] = {}
        with open(source / "identities.csv") as fh:
            for row in csv.DictReader(fh):
                seen[row["identity"]] = seen.get(row["identity"], 0) + 1
                if seen[row["identity"]] <= per_person:
                    photos.append(
                        (source / "images" / row["file"], f"{source.name}/{row['identity']}")
                    )
    return photos


def embed_photos(photos: list[tuple[Path, str]], out: Path) -> None:
    """Embed each photo (the face nearest the centre) and save embeddings and labels to ``out``."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(BASE_DIR))
    import django

    from config.devservices import ensure_environment

    ensure_environment()  # settings start nothing: like manage.py, the bench starts the servers
    django.setup()
    from search import engine

    vectors: list[np.ndarray] = []
    labels: list[str] = []
    for i, (path, person) in enumerate(photos):
        image = engine.decode_image(path.read_bytes())
        faces = engine.analyse(image).faces
        if faces:
            cx, cy = image.width / 2, image.height / 2
            face = min(
                faces,
                key=lambda f: (
                    (f.box[0] + f.box[2] / 2 - cx) ** 2 + (f.box[1] + f.box[3] / 2 - cy) ** 2
                ),
            )
            vectors.append(face.embedding)
            labels.append(person)
        if i % 50 == 0:
            print(f"  {i}/{len(photos)}", flush=True)
    np.savez(out, vectors=np.stack(vectors).astype(np.float32), labels=np.asarray(labels))


def fit(vectors: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    people = [np.flatnonzero(labels == name) for name in np.unique(labels)]
    people = [rows for rows in people if len(rows) >= 2]
    centres = np.stack([vectors[rows].mean(axis=0) for rows in people])
    residuals = np.concatenate(
        [
            (vectors[rows] - vectors[rows].mean(axis=0)) * np.sqrt(len(rows) / (len(rows) - 1))
            for rows in people
        ]
    )
    within = residuals.T @ residuals / len(residuals)
    mean_photos = float(np.mean([len(rows) for rows in people]))
    between = np.cov(centres, rowvar=False) - within / mean_photos
    values, vecs = np.linalg.eigh(between)
    between = (vecs * np.clip(values, 0, None)) @ vecs.T
    return {
        "centre_mean": centres.mean(axis=0),
        "centre_cov": between,
        "within_cov": within,
        "people": np.asarray(len(people)),
        "photos": np.asarray(sum(len(rows) for rows in people)),
    }


# --- sampling -----------------------------------------------------------------


@dataclass
class Params:
    centre_mean: np.ndarray
    centre_chol: np.ndarray
    within_chol: np.ndarray


def _chol(cov: np.ndarray) -> np.ndarray:
    # A tiny ridge: a clipped covariance is only positive semi-definite.
    return np.linalg.cholesky(cov + np.eye(len(cov)) * 1e-9)


def load_params(path: Path = PARAMS_PATH) -> Params:
    with np.load(path) as data:
        return Params(data["centre_mean"], _chol(data["centre_cov"]), _chol(data["within_cov"]))


def photo_counts(rng: np.random.Generator, n: int) -> np.ndarray:
    """Photos per identity (zeta law, capped) until they add up to exactly n."""
    counts = np.minimum(rng.zipf(ZIPF_EXPONENT, size=n), MAX_PHOTOS_PER_PERSON)
    total = np.cumsum(counts)
    last = int(np.searchsorted(total, n))
    counts = counts[: last + 1].copy()
    counts[-1] -= int(total[last] - n)
    return counts


def sample_realistic(
    n: int, n_queries: int, rng: np.random.Generator, params: Params | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """N face embeddings (identities x photos) and queries: fresh photos of identities in the set."""
    p = params or load_params()
    dim = len(p.centre_mean)
    counts = photo_counts(rng, n)
    centres = p.centre_mean + rng.standard_normal((len(counts), dim)) @ p.centre_chol.T
    identity = np.repeat(np.arange(len(counts)), counts)
    vectors = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 100_000):
        stop = min(n, start + 100_000)
        noise = rng.standard_normal((stop - start, dim)) @ p.within_chol.T
        vectors[start:stop] = normalise(centres[identity[start:stop]] + noise)
    query_ids = identity[rng.integers(0, n, size=n_queries)]  # people weighted by their photos
    queries = normalise(
        centres[query_ids] + rng.standard_normal((n_queries, dim)) @ p.within_chol.T
    )
    return vectors, queries


# --- checking -----------------------------------------------------------------


def pair_distances(vectors: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d = 1.0 - vectors @ vectors.T
    same = labels[:, None] == labels[None, :]
    upper = np.triu(np.ones_like(same), k=1)
    return d[same & upper], d[~same & upper]


def quantiles(values: np.ndarray) -> list[float]:
    return [round(float(v), 3) for v in np.quantile(values, QUANTILES)]


def check(real: np.ndarray, real_labels: np.ndarray, seed: int = 7) -> dict[str, object]:
    """Same/different cosine distance quantiles of the real photos and of a synthetic set of equal shape."""
    rng = np.random.default_rng(seed)
    p = load_params()
    _, sizes = np.unique(real_labels, return_counts=True)
    centres = (
        p.centre_mean + rng.standard_normal((len(sizes), len(p.centre_mean))) @ p.centre_chol.T
    )
    identity = np.repeat(np.arange(len(sizes)), sizes)
    synth = normalise(
        centres[identity]
        + rng.standard_normal((len(identity), len(p.centre_mean))) @ p.within_chol.T
    )
    real_same, real_diff = pair_distances(real, real_labels)
    syn_same, syn_diff = pair_distances(synth, identity)
    return {
        "quantiles": list(QUANTILES),
        "real_same": quantiles(real_same),
        "synthetic_same": quantiles(syn_same),
        "real_different": quantiles(real_diff),
        "synthetic_different": quantiles(syn_diff),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("action", choices=["embed", "fit", "check"])
    parser.add_argument(
        "--per-person", type=int, default=10, help="photos of each person at most (default 10)"
    )
    parser.add_argument(
        "--shard", default="0/1", help="embed: this process's share of the photos, as i/k"
    )
    args = parser.parse_args()
    REAL_CACHE.parent.mkdir(parents=True, exist_ok=True)
    if args.action == "embed":
        i, k = (int(x) for x in args.shard.split("/"))
        photos = labelled_photos(args.per_person)[i::k]
        embed_photos(photos, REAL_CACHE.with_name(f"real_embeddings_{i}_of_{k}.npz"))
        return
    if args.action == "fit":
        parts = sorted(REAL_CACHE.parent.glob("real_embeddings_*_of_*.npz"))
        loaded = [np.load(part) for part in parts]
        vectors = np.concatenate([d["vectors"] for d in loaded])
        labels = np.concatenate([d["labels"] for d in loaded])
        np.savez(REAL_CACHE, vectors=vectors, labels=labels)
        params = fit(vectors, labels)
        np.savez_compressed(PARAMS_PATH, **params)  # type: ignore[arg-type]
        print(
            f"fitted on {int(params['photos'])} photos of {int(params['people'])} people -> {PARAMS_PATH.name}"
        )
    with np.load(REAL_CACHE) as data:
        print(json.dumps(check(data["vectors"], data["labels"])))


if __name__ == "__main__":
    main()
