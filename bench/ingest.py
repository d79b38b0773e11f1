"""Face ingest benchmark: photos/s and faces/s of the project pipeline against a naive deepface loop.

One process on the CPU. The project pipeline reads, decodes (``engine.decode_image``) and
analyses (``engine.analyse_many``, batches of ``settings.FACE_BATCH_SIZE``) every photo; the
naive baseline calls ``DeepFace.represent(img_path=path, model_name="Dlib",
detector_backend="dlib")`` once per photo in a plain loop. Both load their models and run one
warm-up call before the clock starts. Goal: the pipeline ingests at least 2x the naive rate.
It prints figures; it is not a test.

Both run in the same process one after the other, so they share one thread configuration;
set ``OMP_NUM_THREADS`` (and friends) in the environment to pin it, the script prints what
it ran with.

    .venv/bin/python bench/ingest.py [--faces DIR] [--repeat N] [--compare SETTING=VALUE ...] [--no-naive]

``--faces`` is a folder holding ``images/`` (default: ``shared/faces`` beside the
repository); ``--repeat`` goes over the photos N times for steadier figures. ``--compare``
also times the pipeline with those settings overridden (e.g. ``FACE_EMBED_MIRROR=true``;
several in one argument separated by commas), between two runs with the current settings,
and prints its time per photo against theirs (the pipeline options of docs/faces.md).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

GOAL_SPEEDUP = 2.0
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass
class Rate:
    label: str
    photos: int
    faces: int
    seconds: float
    failures: int = 0  # photos the method refused or found no face in

    @property
    def photos_per_second(self) -> float:
        return self.photos / self.seconds

    @property
    def faces_per_second(self) -> float:
        return self.faces / self.seconds


def pipeline_rate(paths: list[Path], batch_size: int, label: str = "project pipeline") -> Rate:
    from search import engine

    engine.warm_up()
    engine.analyse(
        engine.decode_image(paths[0].read_bytes())
    )  # first-call costs stay out of the clock
    faces = failures = 0
    started = time.perf_counter()
    for start in range(0, len(paths), batch_size):
        decoded = []
        for path in paths[start : start + batch_size]:
            try:
                decoded.append(engine.decode_image(path.read_bytes()))
            except engine.ImageRejected:
                failures += 1
        for analysis in engine.analyse_many(decoded):
            faces += len(analysis.faces)
            failures += not analysis.faces
    seconds = time.perf_counter() - started
    return Rate(label, len(paths), faces, seconds, failures)


def _overrides(text: str) -> dict[str, object]:
    """``A=1,B=true`` as settings values (ints, booleans, else strings)."""
    values: dict[str, object] = {}
    for item in filter(None, text.split(",")):
        name, _, raw = item.partition("=")
        if not name.startswith("FACE_") or not raw:
            raise SystemExit(f"--compare takes FACE_SETTING=VALUE, not {item!r}")
        lowered = raw.strip().lower()
        values[name.strip()] = (
            lowered == "true"
            if lowered in ("true", "false")
            else int(raw)
            if raw.isdigit()
            else raw
        )
    return values


def naive_rate(paths: list[Path]) -> Rate:
    from search import engine

    # DEEPFACE_HOME must point at the copied Dlib weights before deepface is first imported,
    # or it would create ~/.deepface and try to download them.
    engine.warm_up()
    from deepface import DeepFace

    def represent(path: Path) -> int:
        try:
            return len(
                DeepFace.represent(img_path=str(path), model_name="Dlib", detector_backend="dlib")
            )
        except ValueError:  # "Face could not be detected" with the default enforce_detection=True
            return 0

    represent(paths[0])  # deepface builds its models lazily on the first call
    faces = failures = 0
    started = time.perf_counter()
    for path in paths:
        found = represent(path)
        faces += found
        failures += not found
    seconds = time.perf_counter() - started
    return Rate("naive DeepFace.represent", len(paths), faces, seconds, failures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=Path, default=BASE_DIR.parent / "shared" / "faces")
    parser.add_argument("--repeat", type=int, default=1, help="go over the photos this many times")
    parser.add_argument(
        "--compare", action="append", default=[], help="FACE_SETTING=VALUE[,...]: time these too"
    )
    parser.add_argument("--no-naive", action="store_true", help="skip the naive deepface loop")
    args = parser.parse_args()
    photos = sorted(
        p for p in (args.faces / "images").iterdir() if p.suffix.lower() in IMAGE_SUFFIXES
    )
    paths = photos * max(1, args.repeat)

    import django

    from config.devservices import ensure_environment

    ensure_environment()  # settings start nothing: like manage.py, the bench starts the servers
    django.setup()
    from django.conf import settings

    from search import engine

    threads = ", ".join(f"{name}={os.environ.get(name, 'unset')}" for name in THREAD_VARIABLES)
    print(
        f"{len(photos)} photos x {max(1, args.repeat)}; cpus={os.cpu_count()}; one process; {threads}; "
        f"ONNX execution provider: {engine.execution_provider()} (the Dlib model runs in dlib, not ONNX)"
    )
    print(
        f"pipeline: decode_image + analyse_many, batch {settings.FACE_BATCH_SIZE}, "
        f"detection at <= {settings.FACE_DETECT_MAX_SIDE} px, faces >= {settings.FACE_MIN_SIZE_PX} px kept; "
        "naive: DeepFace.represent(model_name='Dlib', detector_backend='dlib') per photo at full size"
    )
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
    print(f"load average at start: {' '.join(load)}")
    ours = pipeline_rate(paths, settings.FACE_BATCH_SIZE)
    if args.compare:
        from django.test import override_settings

        compared = []
        for text in args.compare:
            with override_settings(**_overrides(text)):
                compared.append(pipeline_rate(paths, settings.FACE_BATCH_SIZE, label=text))
        again = pipeline_rate(paths, settings.FACE_BATCH_SIZE)
        today = (ours.seconds + again.seconds) / 2 / len(paths)
        before, after = ours.seconds / len(paths), again.seconds / len(paths)
        print(
            f"current settings: {today:.3f} s/photo (mean of {before:.3f} before and {after:.3f} after), "
            f"{ours.failures} photos without a face"
        )
        for rate in compared:
            per_photo = rate.seconds / len(paths)
            print(
                f"{rate.label}: {per_photo:.3f} s/photo, x{per_photo / today:.2f} the current; {rate.failures} without a face"
            )
        print(
            f"load average at end: {' '.join(Path('/proc/loadavg').read_text().split()[:3]) if load else ''}"
        )
    if args.no_naive:
        return
    theirs = naive_rate(paths)

    header = (
        f"{'method':<26}{'photos/s':>10}{'faces/s':>10}{'seconds':>10}{'faces':>8}{'no face':>9}"
    )
    print(header)
    print("-" * len(header))
    for rate in (theirs, ours):
        print(
            f"{rate.label:<26}{rate.photos_per_second:>10.2f}{rate.faces_per_second:>10.2f}"
            f"{rate.seconds:>10.1f}{rate.faces:>8}{rate.failures:>9}"
        )
    speedup = ours.photos_per_second / theirs.photos_per_second
    print(
        f"speed-up: x{speedup:.1f} photos/s, x{ours.faces_per_second / theirs.faces_per_second:.1f} faces/s "
        f"(goal >= x{GOAL_SPEEDUP:.0f} photos/s: {'MET' if speedup >= GOAL_SPEEDUP else 'NOT MET'})"
    )


if __name__ == "__main__":
    main()
