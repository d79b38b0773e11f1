"""The public side's languages: which pages follow the visitor's language, and the catalogue compiler.

Only public pages (``PUBLIC_PREFIXES``) are translated: the language comes from the switcher's cookie,
then ``Accept-Language``. Every other page (the DPO's queue, staff pages, search, admin, the API)
is served in ``settings.LANGUAGE_CODE`` (English) whatever the browser asks for.

``compile_catalogues`` turns ``locale/*/LC_MESSAGES/*.po`` into ``.mo`` files with polib, so a
fresh machine without GNU gettext can build them (``python -m config.i18n``; ``make install``,
``make run`` and ``make test`` do it, and so do the test settings).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.apps import AppConfig
    from django.core.checks import CheckMessage

BASE_DIR = Path(__file__).resolve().parent.parent
LOCALE_DIR = BASE_DIR / "locale"

# Public URL prefixes; /rights/dpo/ is the DPO's queue and stays in English.
PUBLIC_PREFIXES = ("/rights/", "/transparency/", "/i18n/")
STAFF_PREFIXES = ("/rights/dpo/",)


def is_public_path(path: str) -> bool:
    return path.startswith(PUBLIC_PREFIXES) and not path.startswith(STAFF_PREFIXES)


def compile_catalogues(locale_dir: Path = LOCALE_DIR, *, force: bool = False) -> list[Path]:
    """Compile every .po under ``locale_dir`` whose .mo is missing or older; returns the .mo files written."""
    import polib

    written = []
    for po_path in sorted(locale_dir.glob("*/LC_MESSAGES/*.po")):
        mo_path = po_path.with_suffix(".mo")
        if not force and mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        catalogue = polib.pofile(str(po_path))
        tmp = mo_path.with_suffix(".mo.tmp")
        catalogue.save_as_mofile(str(tmp))
        tmp.replace(mo_path)  # atomic: a server reading the old file never sees half a new one
        written.append(mo_path)
    return written


def stale_catalogues(locale_dir: Path = LOCALE_DIR) -> list[Path]:
    """The .po files whose .mo is missing or older (the public pages would show English)."""
    stale = []
    for po_path in sorted(locale_dir.glob("*/LC_MESSAGES/*.po")):
        mo_path = po_path.with_suffix(".mo")
        if not mo_path.exists() or mo_path.stat().st_mtime < po_path.stat().st_mtime:
            stale.append(po_path)
    return stale


def check_catalogues(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """System check: warn when a catalogue is not compiled (a deployment that skipped `make install`)."""
    from django.core.checks import Warning

    return [
        Warning(
            f"{path.relative_to(BASE_DIR)} is not compiled: the public pages show English in its language.",
            hint="Run `python -m config.i18n` (or `make install`).",
            id="facesearch.W001",
        )
        for path in stale_catalogues()
    ]


class PublicLocaleMiddleware:
    """Activate the visitor's language on public pages only; everything else is English.

    It reuses Django's choice of language (the ``django_language`` cookie set by ``set_language``,
    then ``Accept-Language``), which needs no session, so it can run before the size limit.
    """

    def __init__(self, get_response: Callable) -> None:  # type: ignore[type-arg]
        self.get_response = get_response

    def __call__(self, request):  # type: ignore[no-untyped-def]
        from django.conf import settings
        from django.utils import translation
        from django.utils.cache import patch_vary_headers

        public = is_public_path(request.path_info)
        language = (
            translation.get_language_from_request(request) if public else settings.LANGUAGE_CODE
        )
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
        request.public_page = public
        try:
            response = self.get_response(request)
        finally:
            translation.activate(settings.LANGUAGE_CODE)
        if public:
            patch_vary_headers(response, ("Accept-Language", "Cookie"))
            response.headers.setdefault("Content-Language", request.LANGUAGE_CODE)
        return response


if __name__ == "__main__":
    for path in compile_catalogues(force="--force" in sys.argv):
        print(f"compiled {path.relative_to(BASE_DIR)}")
