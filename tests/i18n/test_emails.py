"""Emails to the person go out in the language they filed in, whoever sends them.

Bad things these tests would catch: an email rendered in the language of whoever triggers it
(the DPO works in English, a worker has no language), a subject line left in English, a date
written the English way in a German email, the access report in English, a stored language that
is no longer offered breaking the email.
"""

from __future__ import annotations

import io
import re
import threading
import zipfile
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from subjects import services
from subjects.models import SubjectRequest
from tests.i18n.test_public_pages import english_left
from tests.subjects.requests_support import link

pytestmark = pytest.mark.django_db(transaction=True)  # emails go out on commit

GERMAN_DATE = re.compile(
    r"\b\d{1,2}\. (Januar|Februar|März|April|Mai|Juni|Juli|August|September|Oktober|November|Dezember) \d{4}\b"
)
EMAIL = "person@example.de"


def to_person() -> list:
    return [m for m in mail.outbox if EMAIL in m.to]


def test_a_german_request_gets_german_emails_while_the_dpo_works_in_english(client, dpo):
    """Bad input tried: every step after filing is taken by the DPO in an English session."""
    person = Client(HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9,en;q=0.5")
    response = person.post(reverse("subjects:request", args=["access"]), {"email": EMAIL})
    assert response.status_code == 302
    req = SubjectRequest.objects.get(email=EMAIL)
    assert req.language == "de"
    verification = to_person()[-1]
    assert "Bitte bestätigen Sie Ihren Antrag" in verification.subject
    assert verification.body.startswith("Guten Tag,") and "„Antrag bestätigen“" in verification.body
    assert GERMAN_DATE.search(verification.body), verification.body
    verify_path = link(verification, "verify")
    assert (
        "Antrag bestätigen" in person.get(verify_path).content.decode()
    )  # the button the email names
    person.post(verify_path)
    assert "Wir haben Ihren Antrag erhalten" in to_person()[-1].subject
    assert "(Auskunft über meine Daten (Auskunftsrecht, Art. 15))" in to_person()[-1].body

    client.force_login(dpo)
    english = {"HTTP_ACCEPT_LANGUAGE": "en-GB"}
    detail = reverse("subjects:detail", args=[req.reference])
    page = client.post(
        detail,
        {"action": "ask_clarification", "ask_clarification-reason": "Which page shows you?"},
        follow=True,
        **english,
    ).content.decode()
    assert 'lang="en-gb"' in page and "Done." in page, "the DPO's page is in English"
    question = to_person()[-1]
    assert (
        "Wir brauchen noch eine Angabe von Ihnen" in question.subject
        and "Which page shows you?" in question.body
    )
    services.clarification_answer(
        request=SubjectRequest.objects.get(pk=req.pk), answer="Die Startseite"
    )
    client.post(
        detail,
        {"action": "extend", "extend-months": "1", "extend-reason": "Many sources to check."},
        **english,
    )
    extension = to_person()[-1]
    assert "Wir brauchen mehr Zeit für Ihren Antrag" in extension.subject and GERMAN_DATE.search(
        extension.body
    )
    client.post(detail, {"action": "approve"}, **english)
    client.post(detail, {"action": "execute"}, **english)
    assert SubjectRequest.objects.get(pk=req.pk).status == SubjectRequest.Status.COMPLETED
    ready = to_person()[-1]
    assert "Ihre Daten stehen zum Download bereit" in ready.subject and GERMAN_DATE.search(
        ready.body
    )

    download = person.post(link(ready, "package"))
    report = (
        zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
        .read("report.html")
        .decode()
    )
    assert '<html lang="de">' in report and "Wir haben kein Foto von Ihnen gefunden." in report
    assert (
        "Widerspruchsrecht (Artikel 21)" in report and "Recht auf Löschung (Artikel 17)" in report
    )

    messages = to_person()
    assert len(messages) == 5
    for message in messages:
        left = english_left(
            message.subject + "\n" + message.body.replace("Which page shows you?", ""), "de"
        )
        assert not left, f"{message.subject!r} has English in it: {left}"


def test_a_worker_sends_in_the_requests_language(client, db):
    """Bad input tried: the lapse notice sent from a thread with no language active (as a Celery worker is)."""
    Client(HTTP_ACCEPT_LANGUAGE="fr").post(
        reverse("subjects:request", args=["erasure"]), {"email": EMAIL}
    )
    req = SubjectRequest.objects.get(email=EMAIL)
    assert req.language == "fr"
    SubjectRequest.objects.filter(pk=req.pk).update(received_at=timezone.now() - timedelta(days=30))
    results: list[object] = []

    def worker() -> None:
        from django.db import connection

        try:
            translation.deactivate_all()  # a worker renders with no request and no language of its own
            results.append(services.requests_lapse())
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            results.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(60)
    assert results == [1], results
    notice = to_person()[-1]
    assert "Votre demande n'a pas été confirmée" in notice.subject and notice.body.startswith(
        "Bonjour,"
    )
    assert not english_left(notice.body, "fr")


def test_a_language_no_longer_offered_falls_back_to_english(client, db):
    """Bad input tried: a stored language that settings.LANGUAGES no longer lists, and one never offered."""
    req, _token = services.request_submit(type="erasure", email=EMAIL, language="xx-YY")
    assert req.language == "en-gb" and "Please confirm your request" in to_person()[-1].subject
    SubjectRequest.objects.filter(pk=req.pk).update(language="pt")
    services.request_transition(
        request=SubjectRequest.objects.get(pk=req.pk), action="withdraw", actor=None
    )
    req, _token = services.request_submit(
        type="complaint", email=EMAIL, details="x", language="nl-BE"
    )
    assert req.language == "nl" and "Bevestig uw verzoek" in to_person()[-1].subject
    SubjectRequest.objects.filter(pk=req.pk).update(language="pt")
    services.request_verify(
        token=re.search(r"/rights/verify/([^/\s]+)/", to_person()[-1].body).group(1)
    )
    assert "We have your request" in to_person()[-1].subject, (
        "an unknown stored language must not break the email"
    )


def test_the_dpo_sees_the_requesters_language_in_english(client, dpo):
    """The DPO writes questions and reasons by hand: the page says which language the person reads."""
    Client(HTTP_ACCEPT_LANGUAGE="it").post(
        reverse("subjects:request", args=["access"]), {"email": EMAIL}
    )
    req = SubjectRequest.objects.get(email=EMAIL)
    client.force_login(dpo)
    page = client.get(
        reverse("subjects:detail", args=[req.reference]), HTTP_ACCEPT_LANGUAGE="it"
    ).content.decode()
    assert (
        'lang="en-gb"' in page
        and '<dd id="dpo-language">Italian: every email to the requester is in it' in page
    )
