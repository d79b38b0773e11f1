"""The public side in a real browser, in each language: /rights/ and a request form with its errors,
screenshotted per language into test-artifacts/i18n/<language>/; and the language switcher.

Bad things it would catch: a page that ignores the browser's language, a form whose errors come back
in English, a translated label that no longer matches its field (the label would not find the input),
a switcher that loses the page or does not stick, a layout broken by longer German or French words.
"""

from __future__ import annotations

import re

import pytest
from django.core import mail

from subjects.models import SubjectRequest
from tests.browser.conftest import requires_chromium

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), requires_chromium]

# What a reader of each language sees: the heading, the erasure link, the form's labels and errors.
WORDS = {
    "en-gb": {
        "heading": "Is your face in our index?",
        "object": "Your right to object",
        "erasure": "Erase my data (Art 17)",
        "email": "Your email address",
        "send": "Send my request",
        "invalid": "Enter a valid email address.",
        "status": "Your request",
    },
    "fr": {
        "heading": "Votre visage figure-t-il dans notre index ?",
        "object": "Votre droit d'opposition",
        "erasure": "Faire effacer mes données (droit à l'effacement, art. 17)",
        "email": "Votre adresse e-mail",
        "send": "Envoyer ma demande",
        "invalid": "Saisissez une adresse e-mail valide.",
        "status": "Votre demande",
    },
    "it": {
        "heading": "Il Suo volto è nel nostro indice?",
        "object": "Il Suo diritto di opposizione",
        "erasure": "Cancellazione dei miei dati (diritto alla cancellazione, art. 17)",
        "email": "Il Suo indirizzo e-mail",
        "send": "Invia la mia richiesta",
        "invalid": "Inserisca un indirizzo e-mail valido.",
        "status": "La Sua richiesta",
    },
    "nl": {
        "heading": "Staat uw gezicht in onze index?",
        "object": "Uw recht van bezwaar",
        "erasure": "Wissing van mijn gegevens (recht op gegevenswissing, art. 17)",
        "email": "Uw e-mailadres",
        "send": "Mijn verzoek versturen",
        "invalid": "Voer een geldig e-mailadres in.",
        "status": "Uw verzoek",
    },
    "de": {
        "heading": "Ist Ihr Gesicht in unserem Index?",
        "object": "Ihr Widerspruchsrecht",
        "erasure": "Löschung meiner Daten (Recht auf Löschung, Art. 17)",
        "email": "Ihre E-Mail-Adresse",
        "send": "Antrag absenden",
        "invalid": "Bitte geben Sie eine gültige E-Mail-Adresse ein.",
        "status": "Ihr Antrag",
    },
}


@pytest.mark.parametrize("language", list(WORDS))
def test_rights_and_a_form_in_each_language(journey_factory, language):
    """Bad input tried: an invalid email address; the error must come back in the page's language."""
    j = journey_factory(f"i18n/{language}")
    words = WORDS[language]
    j.context.set_extra_http_headers({"Accept-Language": f"{language},en;q=0.3"})
    page = j.page
    j.goto("/rights/")
    assert page.locator("html").get_attribute("lang") == language
    page.get_by_role("heading", name=words["heading"]).wait_for()
    page.get_by_role("heading", name=words["object"]).wait_for()
    j.step("rights")
    j.assert_fits()
    page.get_by_role("link", name=words["erasure"]).click()
    page.get_by_role("heading", name=words["erasure"]).wait_for()
    j.expect_status(r"/rights/request/erasure/$", 400)
    page.get_by_label(words["email"]).fill("not-an-address")
    page.get_by_role("button", name=words["send"]).click()
    page.get_by_text(words["invalid"]).wait_for()
    assert not SubjectRequest.objects.exists()
    # The browser also logs the 400 it was told to expect; only that one line is forgiven.
    j.problems[:] = [
        p for p in j.problems if not ("status of 400" in p and "/rights/request/erasure/" in p)
    ]
    j.step("form with an error", check_links=False)
    j.assert_fits()
    page.get_by_label(words["email"]).fill(f"reader-{language}@example.net")
    page.get_by_role("button", name=words["send"]).click()
    page.get_by_role("heading", name=re.compile(re.escape(words["status"]) + r" R-")).wait_for()
    req = SubjectRequest.objects.get()
    assert req.language == language
    assert mail.outbox and req.reference in mail.outbox[-1].subject
    j.step("request filed")
    j.finish()


def test_the_switcher_changes_the_language_and_keeps_the_page(journey_factory):
    """Bad input tried: a French browser that chooses German; the choice must survive the next pages."""
    j = journey_factory("i18n/switcher")
    j.context.set_extra_http_headers({"Accept-Language": "fr"})
    page = j.page
    j.goto("/rights/request/objection/")
    assert page.locator("html").get_attribute("lang") == "fr"
    j.step("objection form in French", check_links=False)
    page.locator(".language-switcher").get_by_role("button", name="Deutsch").click()
    page.wait_for_load_state("load")
    assert page.url.endswith("/rights/request/objection/"), page.url
    assert page.locator("html").get_attribute("lang") == "de"
    page.get_by_role(
        "heading",
        name="Widerspruch: Verarbeitung beenden und mich nie wieder erfassen (Widerspruchsrecht, Art. 21)",
    ).wait_for()
    assert page.locator('.language-switcher button[aria-current="true"]').inner_text() == "Deutsch"
    j.step("objection form after choosing Deutsch", check_links=False)
    page.get_by_role("link", name="Zurück zu Ihren Rechten").click()
    page.get_by_role("heading", name="Ihr Widerspruchsrecht").wait_for()
    j.step("rights still in German")
    page.locator(".language-switcher").get_by_role("button", name="English").click()
    page.get_by_role("heading", name="Your right to object").wait_for()
    j.step("back to English")
    j.finish()
