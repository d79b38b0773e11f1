"""The public side in each language, and the staff side in English whatever the browser asks.

Bad things these tests would catch: a sentence left unmarked in a public template (English on a
French page), a marked one whose translation never reached the catalogue, a language that leaks
into the DPO's queue or the login page, a switcher that loses the page or the language, Django's
own form errors left in English, dates and decimals written the English way.
"""

from __future__ import annotations

import html
import io
import re
import zipfile
from datetime import date

import polib
import pytest
from django.conf import settings
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation

from config.i18n import LOCALE_DIR
from subjects import services
from subjects.forms import SubjectRequestForm
from subjects.models import RequestType, SubjectRequest
from tests.subjects.requests_support import link, prove_identity

pytestmark = pytest.mark.django_db(transaction=True)  # emails go out on commit

LANGUAGES = ["fr", "it", "nl", "de"]
# English words that are not words of the target language: several of them in a row betray an
# untranslated sentence. (Dutch also says "we", "is" and "of", so they are not evidence there.)
ENGLISH_WORDS = {
    "the",
    "your",
    "you",
    "our",
    "with",
    "this",
    "that",
    "which",
    "have",
    "has",
    "been",
    "from",
    "please",
    "would",
    "should",
    "their",
    "they",
    "there",
    "we",
    "is",
    "are",
    "and",
    "of",
    "to",
    "not",
    "was",
}
SHARED_WORDS = {"nl": {"we", "is", "of"}, "de": {"was"}, "fr": set(), "it": set()}
LEGAL_TERMS = {
    "fr": [
        "Votre droit d'opposition",
        "Le responsable du traitement est",
        "délégué à la protection des données",
        "Faire effacer mes données (droit à l'effacement, art. 17)",
    ],
    "it": [
        "Il Suo diritto di opposizione",
        "Il titolare del trattamento è",
        "responsabile della protezione dei dati",
        "Cancellazione dei miei dati (diritto alla cancellazione, art. 17)",
    ],
    "nl": [
        "Uw recht van bezwaar",
        "De verwerkingsverantwoordelijke is",
        "functionaris voor gegevensbescherming",
        "Inzage in mijn gegevens (recht van inzage, art. 15)",
    ],
    "de": [
        "Ihr Widerspruchsrecht",
        "Verantwortlicher ist",
        "Datenschutzbeauftragte",
        "Auskunft über meine Daten (Auskunftsrecht, Art. 15)",
    ],
}


def visible_text(page: str) -> str:
    """What a reader sees: text and the attributes read out (alt, aria-label, placeholder, title)."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S | re.I)
    attributes = re.findall(r'\s(?:alt|aria-label|placeholder|title)="([^"]*)"', page)
    text = re.sub(r"<[^>]+>", " ", page)
    return html.unescape(" ".join([text, *attributes]))


def english_left(page: str, language: str) -> list[str]:
    """Runs of three or more English-only words, and English catalogue messages shown verbatim."""
    text = visible_text(page)
    text = re.sub(r"\S+@\S+|https?://\S+", " ", text)  # addresses are not sentences
    text = text.replace(settings.CONTROLLER_NAME, " ")  # a proper noun
    words = set(ENGLISH_WORDS) - SHARED_WORDS[language]
    found = []
    for sentence in re.split(r"[.:;!?()\n]", text):
        tokens = re.findall(r"[A-Za-z']+", sentence.lower())
        hits = [t for t in tokens if t in words]
        if len(hits) >= 3:
            found.append(sentence.strip()[:120])
    catalogue = polib.pofile(str(LOCALE_DIR / language / "LC_MESSAGES" / "django.po"))
    for entry in catalogue:
        if entry.msgstr == entry.msgid or entry.msgid_plural:
            continue
        for fragment in re.split(r"%\([a-z_]+\)s", entry.msgid):
            fragment = " ".join(fragment.split())
            if len(fragment.split()) >= 3 and fragment in " ".join(text.split()):
                found.append(f"msgid shown untranslated: {fragment}")
    return found


@pytest.fixture
def live_configuration(dpo):
    """A notice with something to show: retention periods, a web source and an imported one."""
    from compliance.retention import retention_policies_ensure
    from crawling import services as crawl

    retention_policies_ensure()
    for name, kind, scope in (
        ("Presse Exemple", "web", ["https://presse.example.fr/"]),
        ("Archivio Demo", "local", []),
    ):
        source = crawl.source_add(
            name=name,
            kind=kind,
            scope=scope,
            jurisdictions=["FR", "IT"],
            lawful_basis="legitimate_interests",
            art9_condition="manifestly_public",
            dpia_reference="D-1",
        )
        crawl.source_approve(source=source, actor=dpo)


def file_request(client, kind: str, language: str) -> tuple[SubjectRequest, str]:
    """File a request from a browser that asks for ``language``; returns it and its status page path."""
    response = client.post(
        reverse("subjects:request", args=[kind]),
        {"email": "personne@example.net"},
        HTTP_ACCEPT_LANGUAGE=language,
    )
    assert response.status_code == 302, response.content.decode()[:800]
    return SubjectRequest.objects.latest("received_at"), response["Location"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_public_page_is_in_the_language_asked_for(client, live_configuration, dpo, language):
    """Bad input tried: any English sentence (unmarked, or marked but untranslated) on the public pages."""
    lang = {"HTTP_ACCEPT_LANGUAGE": f"{language},en;q=0.5"}
    pages: dict[str, str] = {}

    def get(
        name: str, path: str, status: int = 200, method: str = "get", data: dict | None = None
    ) -> str:
        response = getattr(client, method)(path, data or {}, **lang)
        assert response.status_code == status, (name, response.status_code)
        assert (
            response["Content-Language"] == language
            and 'lang="' + language + '"' in response.content.decode()
        )
        pages[name] = response.content.decode()
        return pages[name]

    notice = get("notice", reverse("subjects:notice"))
    for term in LEGAL_TERMS[language]:
        assert term in html.unescape(notice), f"{language}: {term!r} missing from the notice"
    for kind in RequestType.values:
        get(f"form {kind}", reverse("subjects:request", args=[kind]))
        get(
            f"form {kind} errors",
            reverse("subjects:request", args=[kind]),
            400,
            "post",
            {"email": "not-an-address"},
        )
    get("submitted", reverse("subjects:submitted"))
    get("link invalid", reverse("subjects:verify", args=["no-such-token"]), 404)
    req, status_path = file_request(client, "access", language)
    assert req.language == language
    get("status unconfirmed", status_path)
    get("withdraw", status_path + "withdraw/")
    verify_path = link(mail.outbox[-1], "verify")
    get("verify", verify_path)
    client.post(verify_path, **lang)
    get("verified", verify_path)
    req = services.request_transition(
        request=req, action="ask_clarification", actor=dpo, reason="Quelle page ?"
    )
    get("status with a question", status_path)
    get("answer refused", status_path + "answer/", 400, "post", {"answer": ""})
    services.clarification_answer(request=req, answer="La page d'accueil")
    req = services.request_transition(
        request=SubjectRequest.objects.get(pk=req.pk), action="approve", actor=dpo
    )
    prove_identity(req, dpo)
    services.request_execute(request=req, actor=dpo)
    package_path = link(mail.outbox[-1], "package")
    get("package", package_path)
    get("status completed", status_path)
    download = client.post(package_path, **lang)
    archive = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
    pages["report.html"] = report = archive.read("report.html").decode()
    assert f'<html lang="{language}">' in report
    problems = {name: english_left(page, language) for name, page in pages.items()}
    problems = {name: found for name, found in problems.items() if found}
    assert not problems, f"{language}: English left on public pages: {problems}"


def test_english_pages_are_unchanged_for_english_readers(client, live_configuration):
    page = client.get(reverse("subjects:notice"), HTTP_ACCEPT_LANGUAGE="en-US").content.decode()
    assert (
        'lang="en-gb"' in page
        and "Your right to object" in page
        and "Faces and embeddings: 365 days" in page
    )


def test_the_english_check_finds_an_unmarked_sentence():
    """The detector itself: an English sentence inside a French page is reported, French text is not."""
    french = "<p>Votre droit d'opposition : vous pouvez vous opposer à tout moment.</p>"
    assert english_left(french, "fr") == []
    assert english_left(french + "<p>Tell us where to reach you and we answer.</p>", "fr")
    assert english_left(french + "<p>Send my request</p>", "fr"), (
        "a catalogue message shown in English"
    )


def test_switcher_keeps_the_page_and_the_language_beats_the_browser(client, live_configuration):
    """Bad input tried: a German choice on a French browser, a `next` that points off the site."""
    page = client.get(reverse("subjects:notice"), HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert (
        'action="/i18n/setlang/"' in page and 'name="next" type="hidden" value="/rights/"' in page
    )
    assert all(f'value="{code}"' in page for code, _name in settings.LANGUAGES)
    response = client.post(
        "/i18n/setlang/",
        {"language": "de", "next": "/rights/request/erasure/"},
        HTTP_ACCEPT_LANGUAGE="fr",
    )
    assert response.status_code == 302 and response["Location"] == "/rights/request/erasure/"
    page = client.get("/rights/request/erasure/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert 'lang="de"' in page and "Löschung meiner Daten (Recht auf Löschung, Art. 17)" in page
    assert 'aria-current="true">Deutsch' in page.replace(' lang="de"', "")
    off_site = client.post("/i18n/setlang/", {"language": "it", "next": "https://evil.example/"})
    assert off_site.status_code == 302 and "evil.example" not in off_site["Location"]
    unknown = client.post("/i18n/setlang/", {"language": "xx", "next": "/rights/"})
    assert unknown.status_code == 302
    assert 'lang="de"' in client.get("/rights/").content.decode(), (
        "an unknown language changed the choice"
    )


def test_staff_pages_stay_english_whatever_the_browser_asks(client, dpo):
    """Bad input tried: a DPO whose browser asks for German and who chose French on a public page."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    login = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert 'lang="en-gb"' in login and "Log in" in login and "Anmelden" not in login
    assert "language-switcher" not in login
    client.force_login(dpo)
    for path in (reverse("subjects:queue"), reverse("compliance:staff_home")):
        response = client.get(path, HTTP_ACCEPT_LANGUAGE="de")
        page = response.content.decode()
        assert response.status_code == 200 and 'lang="en-gb"' in page, path
        assert "Content-Language" not in response and "language-switcher" not in page
    # The same session reads the public pages in the language it chose.
    assert (
        'lang="fr"'
        in client.get(reverse("subjects:notice"), HTTP_ACCEPT_LANGUAGE="de").content.decode()
    )


@pytest.mark.parametrize(
    ("language", "required", "bad_email"),
    [
        ("fr", "Ce champ est obligatoire.", "Saisissez une adresse e-mail valide."),
        ("it", "Questo campo è obbligatorio.", "Inserisca un indirizzo e-mail valido."),
        ("nl", "Dit veld is verplicht.", "Voer een geldig e-mailadres in."),
        (
            "de",
            "Bitte füllen Sie dieses Feld aus.",
            "Bitte geben Sie eine gültige E-Mail-Adresse ein.",
        ),
    ],
)
def test_djangos_own_form_errors_are_translated(client, db, language, required, bad_email):
    """Bad input tried: an empty complaint and a malformed address. Django's messages, in the formal address
    (an installed app's German catalogue says "Gib eine gültige E-Mail Adresse an.")."""
    response = client.post(
        reverse("subjects:request", args=["complaint"]),
        {"email": "nope"},
        HTTP_ACCEPT_LANGUAGE=language,
    )
    page = html.unescape(response.content.decode())
    errors = re.findall(r"class=\"error\"[^>]*>([^<]*)<", page)
    assert response.status_code == 400 and required in errors and bad_email in errors, errors


@pytest.mark.parametrize(
    ("language", "long", "short"),
    [
        ("en-gb", "Saturday 28 November 2026", "28 November 2026"),
        ("fr", "samedi 28 novembre 2026", "28 novembre 2026"),
        ("it", "sabato 28 novembre 2026", "28 novembre 2026"),
        ("nl", "zaterdag 28 november 2026", "28 november 2026"),
        ("de", "Samstag, 28. November 2026", "28. November 2026"),
    ],
)
def test_dates_follow_the_language(client, db, language, long, short):
    """Bad input tried: "28 November 2026" on a German page, "Saturday" on a French one."""
    req, status_path = file_request(client, "erasure", language)
    SubjectRequest.objects.filter(pk=req.pk).update(due_date=date(2026, 11, 28))
    page = html.unescape(client.get(status_path, HTTP_ACCEPT_LANGUAGE=language).content.decode())
    assert long in page, f"{language}: {long!r} not on the status page"
    from config.templatetags.public_i18n import day_date

    with translation.override(language):
        assert day_date(date(2026, 11, 28)) == short


@pytest.mark.parametrize(
    ("language", "expected"),
    [("en-gb", "1.5 MB"), ("fr", "1,5 Mo"), ("de", "1,5 MB"), ("it", "1,5 MB")],
)
def test_numbers_follow_the_language(settings, language, expected):
    """Bad input tried: a photo over the limit; the size in the message uses the language's decimal comma."""
    settings.SUBJECT_SELFIE_MAX_BYTES = 2**20
    selfie = SimpleUploadedFile("me.jpg", b"x" * int(1.5 * 2**20), content_type="image/jpeg")
    with translation.override(language):
        form = SubjectRequestForm(
            {"email": "a@example.net"}, {"selfie": selfie}, request_type="access"
        )
        assert not form.is_valid()
        assert expected in form.errors["selfie"][0], form.errors["selfie"][0]


def test_error_pages_on_public_paths_are_translated(client, db, settings):
    """Bad input tried: a status link that does not exist, and a body over the size limit (refused before any view)."""
    missing = client.get("/rights/requests/R-NOPE/not-a-token/", HTTP_ACCEPT_LANGUAGE="fr")
    page = html.unescape(missing.content.decode())
    assert missing.status_code == 404 and 'lang="fr"' in page and "Page introuvable" in page
    settings.SUBJECT_SELFIE_MAX_BYTES = 1000
    too_big = client.post(
        "/rights/request/erasure/", {"x": "y" * 2_000_000}, HTTP_ACCEPT_LANGUAGE="de"
    )
    assert too_big.status_code == 413 and "Zu groß" in too_big.content.decode()
    staff = client.get("/staff/no-such-page/", HTTP_ACCEPT_LANGUAGE="fr")
    assert (
        staff.status_code == 404
        and "Not found" in staff.content.decode()
        and 'lang="en-gb"' in staff.content.decode()
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_transparency_report_is_in_the_language_asked_for(client, live_configuration, language):
    """Bad input tried: any English sentence left on /transparency/ (its figures' labels included)."""
    response = client.get(reverse("transparency:report"), HTTP_ACCEPT_LANGUAGE=language)
    page = response.content.decode()
    assert response.status_code == 200 and f'lang="{language}"' in page
    assert response["Content-Language"] == language
    found = english_left(page, language)
    assert not found, f"{language}: English left on the transparency report: {found}"
    notice = html.unescape(
        client.get(reverse("subjects:notice"), HTTP_ACCEPT_LANGUAGE=language).content.decode()
    )
    assert reverse("transparency:report") in notice
