"""The gettext catalogues: complete, consistent and compiled without GNU gettext.

Bad things they would catch: an empty or fuzzy msgstr (shown in English to a French reader), a
placeholder dropped or misspelt in a translation (a KeyError at render time, or a missing
reference number), a catalogue that a fresh machine without msgfmt cannot build, a choice label
added in another app that the public pages would show untranslated.
"""

from __future__ import annotations

import gettext
import re
import shutil

import polib
import pytest
from django.conf import settings

from config.i18n import LOCALE_DIR, compile_catalogues
from config.public_labels import PUBLIC_LABELS

TRANSLATED = [code for code, _name in settings.LANGUAGES if not code.startswith("en")]
PLACEHOLDER = re.compile(r"%\([A-Za-z_]+\)[sd]|\{[A-Za-z_]*\}")


def catalogue(language: str) -> polib.POFile:
    path = LOCALE_DIR / language / "LC_MESSAGES" / "django.po"
    assert path.exists(), f"no catalogue for {language} at {path}"
    return polib.pofile(str(path))


def test_the_four_languages_are_offered_besides_english():
    assert sorted(TRANSLATED) == ["de", "fr", "it", "nl"]


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_message_is_translated_and_not_fuzzy(language):
    """Bad input tried: an empty msgstr, a fuzzy flag, an untranslated plural form, an obsolete entry."""
    po = catalogue(language)
    assert len(po) > 200, f"{language}: only {len(po)} messages; was the catalogue extracted?"
    problems = []
    for entry in po:
        if entry.obsolete:
            problems.append(f"obsolete: {entry.msgid[:60]}")
        if "fuzzy" in entry.flags:
            problems.append(f"fuzzy: {entry.msgid[:60]}")
        forms = list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]
        if entry.msgid_plural and len(forms) < 2:
            problems.append(f"plural with {len(forms)} form(s): {entry.msgid[:60]}")
        if not all(form.strip() for form in forms):
            problems.append(f"empty: {entry.msgid[:60]}")
    assert not problems, f"{language}:\n" + "\n".join(problems)
    assert not po.metadata_is_fuzzy and po.metadata.get("Language") == language
    assert "nplurals=2" in po.metadata.get("Plural-Forms", "")


@pytest.mark.parametrize("language", TRANSLATED)
def test_placeholders_match_in_every_translation(language):
    """Bad input tried: %(reference)s missing, renamed (%(ref)s) or doubled in a translation."""
    problems = []
    for entry in catalogue(language):
        pairs = [(entry.msgid, entry.msgstr)]
        if entry.msgid_plural:
            pairs = [
                (entry.msgid if n == 0 else entry.msgid_plural, s)
                for n, s in sorted(entry.msgstr_plural.items())
            ]
        for source, translation in pairs:
            if sorted(PLACEHOLDER.findall(source)) != sorted(PLACEHOLDER.findall(translation)):
                problems.append(f"{source[:50]!r} -> {translation[:50]!r}")
    assert not problems, f"{language}:\n" + "\n".join(problems)


def test_every_language_has_the_same_messages():
    """A message extracted for one language and not another would show English to some readers."""
    msgids = {
        language: {(e.msgctxt, e.msgid) for e in catalogue(language)} for language in TRANSLATED
    }
    reference = msgids[TRANSLATED[0]]
    for language, ids in msgids.items():
        assert ids == reference, f"{language} differs: {sorted(ids ^ reference)[:5]}"


@pytest.mark.parametrize(
    ("language", "terms"),
    [
        (
            "fr",
            [
                "droit d'opposition",
                "droit d'accès",
                "droit à l'effacement",
                "responsable du traitement",
                "délégué à la protection des données",
            ],
        ),
        (
            "it",
            [
                "diritto di opposizione",
                "diritto di accesso",
                "diritto alla cancellazione",
                "titolare del trattamento",
                "responsabile della protezione dei dati",
            ],
        ),
        (
            "nl",
            [
                "recht van bezwaar",
                "recht van inzage",
                "recht op gegevenswissing",
                "verwerkingsverantwoordelijke",
                "functionaris voor gegevensbescherming",
            ],
        ),
        (
            "de",
            [
                "Widerspruchsrecht",
                "Auskunftsrecht",
                "Recht auf Löschung",
                "Verantwortlicher",
                "Datenschutzbeauftragte",
            ],
        ),
    ],
)
def test_legal_terms_follow_the_gdpr_text(language, terms):
    """Bad input tried: a word-for-word rendering ("droit d'objecter", "Recht auf Ausradierung")."""
    text = "\n".join(s for e in catalogue(language) for s in [e.msgstr, *e.msgstr_plural.values()])
    missing = [term for term in terms if term.lower() not in text.lower()]
    assert not missing, f"{language} never uses {missing}"


def test_formal_address_throughout():
    """Bad input tried: the familiar "tu/du/je/tuo" slipping into a formal text."""
    informal = {
        "fr": r"\b(tu|ton|ta|tes|toi)\b",
        "de": r"\b(du|dein|deine|dich|dir)\b",
        "nl": r"\b(je|jij|jouw)\b",
        "it": r"\b(tu|tuo|tua|tuoi|ti)\b",
    }
    for language, pattern in informal.items():
        hits = [e.msgstr for e in catalogue(language) if re.search(pattern, e.msgstr, re.I)]
        assert not hits, f"{language} uses the familiar form: {hits[:3]}"


def test_catalogues_compile_with_python_only(tmp_path, monkeypatch):
    """Bad input tried: a machine without GNU gettext (no msgfmt on PATH) must still build the .mo files."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    assert shutil.which("msgfmt") is None
    copy = tmp_path / "locale"
    shutil.copytree(LOCALE_DIR, copy, ignore=shutil.ignore_patterns("*.mo"))
    written = compile_catalogues(copy)
    assert sorted(p.parent.parent.name for p in written) == sorted(TRANSLATED)
    assert compile_catalogues(copy) == [], "an up-to-date .mo was compiled again"
    german = gettext.GNUTranslations((copy / "de" / "LC_MESSAGES" / "django.mo").open("rb"))
    assert german.gettext("Your right to object") == "Ihr Widerspruchsrecht"
    plural = german.ngettext(
        "%(label)s: %(days)s day, then deleted.", "%(label)s: %(days)s days, then deleted.", 3
    )
    assert plural == "%(label)s: %(days)s Tage, danach gelöscht."


def test_the_management_command_compiles():
    """`manage.py compile_catalogues --force` rebuilds every .mo from its .po."""
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("compile_catalogues", "--force", stdout=out)
    assert "4 catalogue(s) compiled" in out.getvalue(), out.getvalue()
    for language in TRANSLATED:
        mo = LOCALE_DIR / language / "LC_MESSAGES" / "django.mo"
        assert mo.stat().st_mtime >= (mo.with_suffix(".po")).stat().st_mtime


def test_every_public_label_from_other_apps_is_in_the_catalogue():
    """Labels the notice and the report show from other apps' choices must be listed for translation."""
    from compliance.models import DataClass
    from crawling.models import Art6Basis, Art9Condition
    from search.models import LawfulBasis

    shown = {
        str(label)
        for choices in (LawfulBasis, Art6Basis, Art9Condition, DataClass)
        for _v, label in choices.choices
    }
    missing = shown - set(PUBLIC_LABELS)
    assert not missing, (
        f"add these to config/public_labels.py and run makemessages: {sorted(missing)}"
    )
    msgids = {e.msgid for e in catalogue("fr")}
    assert set(PUBLIC_LABELS) <= msgids, sorted(set(PUBLIC_LABELS) - msgids)


def test_a_missing_compiled_catalogue_is_reported(tmp_path, monkeypatch):
    """Bad input tried: a deployment that skipped the compile step; `manage.py check` says so."""
    from config import i18n

    copy = tmp_path / "locale"
    shutil.copytree(LOCALE_DIR, copy, ignore=shutil.ignore_patterns("*.mo"))
    monkeypatch.setattr(i18n, "LOCALE_DIR", copy)
    monkeypatch.setattr(i18n, "BASE_DIR", tmp_path)
    monkeypatch.setattr(i18n.stale_catalogues, "__defaults__", (copy,))
    warnings = i18n.check_catalogues()
    assert len(warnings) == 4 and all(w.id == "facesearch.W001" for w in warnings)
    compile_catalogues(copy)
    assert i18n.check_catalogues() == []
