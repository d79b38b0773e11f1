"""Moved to ``config.templatetags.public_i18n`` (the ``public_i18n`` library in settings.TEMPLATES);
its filters are re-exported here for the old import path (no ``register``: the library is config's)."""

from config.templatetags.public_i18n import (  # noqa: F401
    day_date,
    long_date,
    public_label,
    public_languages,
)
