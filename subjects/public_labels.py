"""Labels that other apps define in English and the public pages show (the notice, the access report).

Listed here with ``gettext_noop`` so ``makemessages`` puts them in the catalogues; the templates
translate them with the ``public_label`` filter (subjects/templatetags/public_i18n.py). When one of
these labels changes in its app, change it here too (tests/i18n checks every choice is listed).
"""

from __future__ import annotations

from django.utils.translation import gettext_noop

PUBLIC_LABELS = [
    gettext_noop("Legal obligation (Art 6(1)(c))"),
    gettext_noop("Public task (Art 6(1)(e))"),
    gettext_noop("Legitimate interests (Art 6(1)(f))"),
    gettext_noop("Vital interests (Art 6(1)(d))"),
    gettext_noop("Consent (Art 6(1)(a))"),
    gettext_noop("Explicit consent (Art 9(2)(a))"),
    gettext_noop("Manifestly made public by the data subject (Art 9(2)(e))"),
    gettext_noop("Legal claims (Art 9(2)(f))"),
    gettext_noop("Substantial public interest (Art 9(2)(g))"),
    gettext_noop("Source images"),
    gettext_noop("Faces and embeddings"),
    gettext_noop("Face crops"),
    gettext_noop("Probe images"),
    gettext_noop("Probe embeddings"),
    gettext_noop("Search results"),
    gettext_noop("Subject-request records"),
    gettext_noop("Access packages"),
    gettext_noop("Audit events"),
    # settings.REGULATOR_COMPLAINTS's default (a deployment that sets its own shows it as written).
    gettext_noop("your national data-protection authority (in the UK: ico.org.uk/make-a-complaint)"),
]
