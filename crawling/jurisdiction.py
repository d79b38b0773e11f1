"""Jurisdiction signals for a crawled image: the source's declared countries, the page's ccTLD,
``<html lang>`` and GPS in EXIF. Regulators rejected "we can't tell nationality from a photo":
every signal we have is checked against the excluded list, and recorded."""

from __future__ import annotations

import io
from urllib.parse import urlsplit

from django.conf import settings
from PIL import Image

# ccTLDs that differ from the ISO 3166 code.
CCTLD_EXCEPTIONS = {
    "uk": "GB",
    "eu": "",
    "su": "",
    "ac": "",
    "io": "",
    "co": "CO",
    "tv": "",
    "me": "ME",
    "ai": "",
}
# Rough bounding boxes (lat_min, lat_max, lon_min, lon_max) for GPS checks of excluded countries; GPS
# alone is treated as a signal only inside these boxes (an offline approximation, see docs).
GPS_BOXES = {"GB": (49.8, 60.9, -8.7, 1.8)}


def from_tld(url: str) -> str:
    host = (urlsplit(url).hostname or "").rstrip(".")
    tld = host.rsplit(".", 1)[-1].lower() if "." in host else ""
    if len(tld) != 2 or not tld.isalpha():
        return ""
    return CCTLD_EXCEPTIONS.get(tld, tld.upper())


def from_lang(lang: str) -> str:
    parts = lang.replace("_", "-").split("-")
    return parts[1].upper() if len(parts) > 1 and len(parts[1]) == 2 else ""


def _gps(image_bytes: bytes) -> tuple[float, float] | None:
    try:
        exif = Image.open(io.BytesIO(image_bytes)).getexif()
        gps = exif.get_ifd(0x8825)
        if not gps or 2 not in gps or 4 not in gps:
            return None

        def degrees(value: tuple[float, float, float], ref: str, negative: str) -> float:
            d, m, s = (float(v) for v in value)
            result = d + m / 60 + s / 3600
            return -result if ref == negative else result

        return degrees(gps[2], gps.get(1, "N"), "S"), degrees(gps[4], gps.get(3, "E"), "W")
    except Exception:  # noqa: BLE001 - broken EXIF is no signal, not an error
        return None


def from_gps(image_bytes: bytes) -> str:
    point = _gps(image_bytes)
    if point is None:
        return ""
    lat, lon = point
    for code, (lat0, lat1, lon0, lon1) in GPS_BOXES.items():
        if lat0 <= lat <= lat1 and lon0 <= lon <= lon1:
            return code
    return ""


def signals(
    *, declared: list[str], page_url: str, lang: str, image_bytes: bytes
) -> dict[str, str | list[str]]:
    return {
        "source": [c.upper() for c in declared],
        "cctld": from_tld(page_url),
        "lang": from_lang(lang),
        "gps": from_gps(image_bytes),
    }


def excluded_by(found: dict[str, str | list[str]]) -> str:
    """The first signal naming an excluded country (e.g. 'cctld:GB'), or ''."""
    excluded = {c.upper() for c in settings.EXCLUDED_JURISDICTIONS}
    for name, value in found.items():
        for code in value if isinstance(value, list) else [value]:
            if code and (code in excluded or code.split("-")[0] in excluded):
                return f"{name}:{code}"
    return ""
