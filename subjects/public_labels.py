"""Moved to ``config.public_labels`` (public i18n is shared by every app); re-exported here."""

from config.public_labels import (  # noqa: F401
    DJANGO_MESSAGES,
    PUBLIC_LABELS,
    REGULATOR_DEFAULT,
    REGULATOR_DEFAULT_WITH_LEAD,
    names_excluded_regulator,
    regulator_text,
)
