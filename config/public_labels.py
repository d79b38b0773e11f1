"""Labels that other apps define in English and the public pages show (the notice, the access report).

Listed here with ``gettext_noop`` so ``makemessages`` puts them in the catalogues; the templates
translate them with the ``public_label`` filter (subjects/templatetags/public_i18n.py). When one of
these labels changes in its app, change it here too (tests/i18n checks every choice is listed).
"""

from __future__ import annotations

from django.utils.translation import gettext_noop, ngettext_lazy

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
]

# Where to complain when the deployment sets no wording of its own (settings.REGULATOR_COMPLAINTS empty). Each
# translation is a noun phrase that reads after the sentence's preposition in every language ("bei der ...",
# "auprès de l'...", "presso l'...", "bij de ..."), so it is written in that case.
REGULATOR_DEFAULT = gettext_noop(
    "the data-protection authority of the EU or EEA country where you live or work"
)
REGULATOR_DEFAULT_WITH_LEAD = gettext_noop(
    "the data-protection authority of the EU or EEA country where you live or work, or our lead authority, %(lead)s"
)

# How the regulators of countries that may be excluded are named, to keep them out of the public text: a person
# from an excluded country is not processed, so sending them to their own regulator promises what we do not do.
REGULATORS_BY_COUNTRY: dict[str, tuple[str, ...]] = {
    "GB": ("ico.org.uk", "information commissioner", " ico ", "(ico)"),
    "CH": ("edoeb.admin.ch", "fdpic", "edöb"),
    "US": ("ftc.gov",),
}


def names_excluded_regulator(text: str) -> bool:
    """Whether ``text`` names the regulator of a country in settings.EXCLUDED_JURISDICTIONS."""
    from django.conf import settings

    lowered = f" {text.lower()} "
    excluded = {code.upper() for code in settings.EXCLUDED_JURISDICTIONS}
    return any(
        marker in lowered for code in excluded for marker in REGULATORS_BY_COUNTRY.get(code, ())
    )


def regulator_text() -> str:
    """Where to complain, in the active language: the deployment's wording as written, else the translated default
    naming the lead authority when one is set; never the regulator of an excluded country."""
    from django.conf import settings
    from django.utils.translation import gettext

    custom = settings.REGULATOR_COMPLAINTS.strip()
    if custom and not names_excluded_regulator(custom):
        return custom
    lead = settings.REGULATOR_LEAD_AUTHORITY.strip()
    if lead and not names_excluded_regulator(lead):
        return gettext(REGULATOR_DEFAULT_WITH_LEAD) % {"lead": lead}
    return gettext(REGULATOR_DEFAULT)


# Django's own validation messages that the public forms can show. Django and the installed apps ship
# translations for them, but some use the familiar form ("Gib eine gültige E-Mail Adresse an."); the
# project's catalogues (LOCALE_PATHS, which win over every app's) give them in the formal address.
DJANGO_MESSAGES = [
    gettext_noop("This field is required."),
    gettext_noop("Enter a valid email address."),
    gettext_noop("The submitted file is empty."),
    gettext_noop("No file was submitted. Check the encoding type on the form."),
    gettext_noop("The submitted data was not a file. Check the encoding type on the form."),
    ngettext_lazy(
        "Ensure this value has at most %(limit_value)d character (it has %(show_value)d).",
        "Ensure this value has at most %(limit_value)d characters (it has %(show_value)d).",
        "limit_value",
    ),
]
