"""``public_label``: a label defined in English by another app (a lawful basis, a retention data class),
translated for the public pages from the catalogue entries listed in ``config.public_labels``;
``day_date`` and ``long_date``: dates written the way the active language writes them."""

from __future__ import annotations

from datetime import date, datetime

from django import template
from django.conf import settings
from django.template.defaultfilters import date as date_filter
from django.utils.translation import get_language, gettext

register = template.Library()


@register.simple_tag
def public_languages() -> list[tuple[str, str]]:
    """settings.LANGUAGES with each language named in itself, for the switcher ("English", not "Inglese")."""
    return list(settings.LANGUAGES)


@register.filter
def public_label(value: object) -> str:
    return gettext(str(value)) if value not in (None, "") else ""


# Dates as each language writes them in running text. Django's month and weekday names are
# translated; only the order and punctuation differ (German: "Samstag, 28. November 2026").
_DAY_FORMATS = {"de": "j. F Y"}
_LONG_FORMATS = {"de": "l, j. F Y"}
_LOWERCASE = {"it"}


def _format(value: date | datetime | None, formats: dict[str, str], default: str) -> str:
    if value in (None, ""):
        return ""
    language = (get_language() or "en").split("-")[0]
    text = date_filter(value, formats.get(language, default))
    # Django's Italian catalogue capitalises month and day names (as headings); running text does not.
    return text.lower() if language in _LOWERCASE else text


@register.filter
def day_date(value: date | datetime | None) -> str:
    """28 November 2026 / 28 novembre 2026 / 28. November 2026."""
    return _format(value, _DAY_FORMATS, "j F Y")


@register.filter
def long_date(value: date | datetime | None) -> str:
    """Saturday 28 November 2026 / samedi 28 novembre 2026 / Samstag, 28. November 2026."""
    return _format(value, _LONG_FORMATS, "l j F Y")
