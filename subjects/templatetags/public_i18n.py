"""``public_label``: a label defined in English by another app (a lawful basis, a retention data class),
translated for the public pages from the catalogue entries listed in ``subjects.public_labels``."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext

register = template.Library()


@register.filter
def public_label(value: object) -> str:
    return gettext(str(value)) if value not in (None, "") else ""
