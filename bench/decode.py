"""Decoding cost of a small file that claims many pixels: the 52 KB PNG selfie (issue 18, item 16).

A solid-colour PNG compresses about 1,000:1, so 52 KB holds a 15-megapixel photo (3,883 x 3,883):
under the 40-megapixel limit (FACE_IMAGE_MAX_PIXELS), so it is accepted and decoded. Each case runs in
a fresh child process and reports its wall time and its peak resident memory above what the process
held just before the work (``VmHWM``, reset then), so both ways are measured in one run, on one file:

- ``old``: what decode_image did before: ``Image.open`` + ``load()`` of the full image, EXIF
  transpose, RGB conversion and a numpy copy, all at full size;
- ``new``: ``search.engine.decode_image`` now: the pixel count read from the header (refused over
  the limit before any pixel is decoded), then a decode to a bounded working size (longest side at
  under 4 x FACE_DETECT_MAX_SIDE; JPEGs scaled by the decoder, other formats reduced right after the
  load, before the RGB copy);
- ``old x4`` / ``new x4``: four at once in threads, as four uploads on one web process (the new
  way holds at most FACE_WORK_CONCURRENCY decodes at once; the others wait for a slot);
- ``bomb``: a 30,000 x 30,000 PNG header, refused before decoding.

    .venv/bin/python bench/decode.py            # a table
    .venv/bin/python bench/decode.py --json     # one JSON line per case
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_BYTES = 52 * 1024


def solid_png(target: int = TARGET_BYTES) -> bytes:
    """A solid-colour RGB PNG of about ``target`` bytes (its side found by bisection)."""
    from PIL import Image

    def encode(side: int) -> bytes:
        out = io.BytesIO()
        Image.new("RGB", (side, side), (182, 140, 120)).save(
            out, format="PNG", optimize=False, compress_level=9
        )
        return out.getvalue()

    low, high = 500, 6000
    while high - low > 16:
        mid = (low + high) // 2
        if len(encode(mid)) < target:
            low = mid
        else:
            high = mid
    return encode(low)


def _rss_kib(key: str = "VmRSS") -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    return 0


def _old_decode(data: bytes) -> object:
    import numpy as np
    from PIL import Image, ImageOps

    image = Image.open(io.BytesIO(data))
    image.load()
    upright = ImageOps.exif_transpose(image) or image
    return np.ascontiguousarray(np.asarray(upright.convert("RGB"), dtype=np.uint8))


def _child(case: str, path: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    from config.devservices import ensure_environment

    ensure_environment()  # settings start nothing: like manage.py, the bench starts the servers
    django.setup()
    import numpy  # noqa: F401 - imported before the baseline is taken
    import PIL.PngImagePlugin  # noqa: F401

    from search import engine

    data = Path(path).read_bytes()
    decode = {"old": _old_decode, "new": engine.decode_image}[case.split("x")[0].strip()]
    copies = 4 if case.endswith("x4") else 1
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write(
            "5"
        )  # the peak (VmHWM) starts again from the current size: imports and setup do not count
    before = _rss_kib()
    errors: list[str] = []
    start = time.perf_counter()

    def one() -> None:
        try:
            decode(data)
        except engine.ImageRejected as exc:
            errors.append(exc.code)

    threads = [threading.Thread(target=one) for _ in range(copies)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - start
    peak = _rss_kib("VmHWM")
    print(
        json.dumps(
            {
                "seconds": round(seconds, 3),
                "peak_mb": round((peak - before) / 1024, 1),
                "refused": errors,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("CASE", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory(prefix="bench-decode-") as tmp:
        _run(Path(tmp), as_json=args.json)


def _run(work: Path, *, as_json: bool) -> None:
    from PIL import Image

    from tests.search.photos import png_bomb

    png = work / "solid.png"
    png.write_bytes(solid_png())
    bomb = work / "bomb.png"
    bomb.write_bytes(png_bomb())
    side = Image.open(png).size
    rows = []
    for case, path in (("old", png), ("new", png), ("old x4", png), ("new x4", png), ("new", bomb)):
        out = subprocess.run(
            [sys.executable, __file__, "--child", case, str(path)],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        size = side if path == png else (30_000, 30_000)
        row = {
            "case": case if path == png else "bomb (new)",
            "file_kb": round(path.stat().st_size / 1024, 1),
            "pixels": f"{size[0]}x{size[1]}",
            **result,
        }
        rows.append(row)
        if as_json:
            print(json.dumps(row))
    if not as_json:
        print(
            f"PNG {png.stat().st_size / 1024:.0f} KB, {side[0]}x{side[1]} px ({side[0] * side[1] / 1e6:.1f} MP)"
        )
        print(f"{'case':<12} {'file KB':>8} {'pixels':>13} {'seconds':>8} {'peak MB':>8}  refused")
        for r in rows:
            refused = ",".join(r["refused"])
            print(
                f"{r['case']:<12} {r['file_kb']:>8} {r['pixels']:>13} {r['seconds']:>8} {r['peak_mb']:>8}  {refused}"
            )


if __name__ == "__main__":
    main()
