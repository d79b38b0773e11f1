"""Invariant matrix: legal holds, restriction and suppression on every path that erases, restricts or
corrects a person's photos (issue 18).

Every row builds a real request with the real face model: img1 (person01) and img3 (someone else) are
indexed from the source "test photos"; the person sends img2 (person01 again) as their selfie; the DPO
confirms the likely candidates, approves and carries the request out through subjects.services. The
legal holds are placed with compliance.retention.legal_hold_create; sweeps are the real retention and
jurisdiction sweeps. Each row says what it tried and asserts what a person would check: is the photo
still there, can a search still find it, what the DPO page and the person's email say.
"""

# row ids use the multiplication sign
from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import translation

from compliance.models import AuditEvent, DataClass, LegalHold
from compliance.retention import (
    jurisdiction_sweep,
    legal_hold_create,
    legal_hold_release,
    retention_sweep,
)
from search.models import Face, SearchHit, SearchRequest, SourceImage
from search.selectors import face_match_list
from subjects import services
from subjects.models import Candidate, SubjectRequest
from subjects.selectors import request_timeline
from tests.browser.test_smoke import CHROMIUM
from tests.browser.test_staff_pages import _login, browser  # noqa: F401 (the fixture)
from tests.search import photos
from tests.search.conftest import index_photos
from tests.subjects.requests_support import prove_identity

pytestmark = pytest.mark.django_db(transaction=True)  # emails and file deletions happen on commit

S = SubjectRequest.Status
SOURCE = "test photos"  # index_photos' source label


@pytest.fixture
def store(owner):
    """img1 (the requester) and img3 (someone else) indexed; the owner's organisation saw img1 in a search."""
    images = index_photos("img1.jpg", "img3.jpg")
    search = SearchRequest.objects.create(
        organisation=owner.membership.organisation,
        user=owner,
        purpose="p",
        lawful_basis="public_task",
        case_reference="CASE-9",
        status="done",
    )
    SearchHit.objects.create(
        search=search, face=images["img1.jpg"].faces.get(), distance=0.03, confidence=0.9, rank=1
    )
    return images


def _request(kind: str, *, language: str = "en-gb", consent: bool = False) -> SubjectRequest:
    """A request filed with the person's selfie (img2), its email link followed."""
    req, _token = services.request_submit(
        type=kind,
        email="person@example.net",
        selfie=photos.photo("img2.jpg"),
        language=language,
        consent_keep_template=consent,
        correction="I live in Britain" if kind == "rectification" else "",
    )
    found = re.search(r"/rights/verify/([^/\s]+)/", str(mail.outbox[-1].body))
    assert found is not None
    services.request_verify(token=found.group(1))
    return SubjectRequest.objects.get(pk=req.pk)


def _approved(kind: str, dpo: Any, **kwargs: Any) -> SubjectRequest:
    """Likely candidates confirmed, borderline ones rejected, approved by the DPO."""
    req = _request(kind, **kwargs)
    for candidate in req.candidates.all():
        services.candidate_decide(candidate=candidate, confirm=not candidate.borderline, actor=dpo)
    assert req.candidates.filter(status=Candidate.Status.CONFIRMED).exists()
    prove_identity(req, dpo)
    return services.request_transition(request=req, action="approve", actor=dpo)


def _carry_out(kind: str, dpo: Any, **kwargs: Any) -> SubjectRequest:
    req = _approved(kind, dpo, **{k: v for k, v in kwargs.items() if k in ("language", "consent")})
    services.request_execute(
        request=req, actor=dpo, rectified_jurisdiction=kwargs.get("jurisdiction", "")
    )
    return SubjectRequest.objects.get(pk=req.pk)


SCOPES = {
    "source_label": "source",
    "face_id": "face",
    "request_reference": "request",
    "organisation": "organisation",
}


def _hold(dpo: Any, **target: Any) -> LegalHold:
    scope = SCOPES[next(iter(target))]
    return legal_hold_create(
        scope=scope, reason="litigation: preserve evidence", actor=dpo, **target
    )


def _searchable(face: Face) -> bool:
    """Whether a search with this very face would return it (the real matching query)."""
    matches = face_match_list(embedding=list(face.embedding), model=face.model, limit=20)
    return face.pk in {m.face_id for m in matches}


def _kept_out_of_search(image: SourceImage, status: str = Face.Status.RESTRICTED) -> None:
    """The photo and its file are still there, its face is restricted (or suppressed) and no search returns it."""
    assert SourceImage.objects.filter(pk=image.pk).exists(), "a held photo was erased"
    face = Face.objects.get(image=image)
    assert face.status == status
    assert not _searchable(face)
    assert image.file.storage.exists(str(image.file.name))


def _gone(image: SourceImage) -> None:
    assert not SourceImage.objects.filter(pk=image.pk).exists()
    assert not Face.objects.filter(image_id=image.pk).exists()
    assert not image.file.storage.exists(str(image.file.name))


# --- legal hold × every path that erases ------------------------------------------------------------------


def _erasure_under_source_hold(store, dpo, owner):
    """Tried: a hold on the photos' source, then an erasure. Expect: img1 kept, restricted, marked for
    erasure; the receipt and the person's email say one photo is kept; nothing is erased."""
    mine = store["img1.jpg"]
    _hold(dpo, source_label=SOURCE)
    req = _carry_out("erasure", dpo)
    _kept_out_of_search(mine)
    mine.refresh_from_db()
    assert mine.erasure_reference == req.reference
    assert (
        req.erasure_receipt.counts["held_images"] == 1 and req.erasure_receipt.counts["images"] == 0
    )
    assert "legal obligation" in mail.outbox[-1].body and "1 photo" in mail.outbox[-1].body
    assert AuditEvent.objects.filter(
        action="search.faces.held_for_erasure", details__reference=req.reference
    ).exists()


def _objection_under_face_hold(store, dpo, owner):
    """Tried: a hold on the person's face, then an objection. Expect: the photo kept but suppressed (no
    search returns it); its page and image are on the suppression list all the same."""
    from search.models import Suppression
    from search.suppression import suppression_match

    mine = store["img1.jpg"]
    _hold(dpo, face_id=mine.faces.get().pk)
    req = _carry_out("objection", dpo)
    _kept_out_of_search(mine, status=Face.Status.SUPPRESSED)
    assert suppression_match(page_url=mine.page_url) == Suppression.Kind.PAGE_URL
    assert Suppression.objects.filter(
        kind=Suppression.Kind.IMAGE, value_sha256=mine.sha256
    ).exists()
    assert req.erasure_receipt.counts["held_images"] == 1


def _rectification_into_excluded_under_hold(store, dpo, owner, settings):
    """Tried: a hold on the organisation that received img1, then a rectification of the person's country to
    GB (an excluded jurisdiction). Expect: the photo is kept (held) but out of every search."""
    settings.EXCLUDED_JURISDICTIONS = ["GB"]
    mine = store["img1.jpg"]
    _hold(dpo, organisation=owner.membership.organisation)
    _carry_out("rectification", dpo, jurisdiction="GB")
    _kept_out_of_search(mine)
    assert Face.objects.get(image=mine).jurisdiction == "GB"


def _retention_sweep_after_hold(store, dpo, owner):
    """Tried: an erasure under a source hold, a retention sweep while the hold stands, the hold released,
    the sweep again. Expect: kept by the first sweep, erased by the second, with a receipt and audit."""
    mine = store["img1.jpg"]
    hold = _hold(dpo, source_label=SOURCE)
    _carry_out("erasure", dpo)
    first = retention_sweep(data_class=DataClass.SOURCE_IMAGES, actor=dpo)
    _kept_out_of_search(mine)
    assert first is not None and first.held >= 1
    legal_hold_release(hold=hold, actor=dpo)
    second = retention_sweep(data_class=DataClass.SOURCE_IMAGES, actor=dpo)
    _gone(mine)
    assert (
        second is not None
        and second.affected == 1
        and SourceImage.objects.filter(pk=store["img3.jpg"].pk).exists()
    )
    assert AuditEvent.objects.filter(action="search.retention.held_erasures_completed").exists()


def _jurisdiction_sweep_under_request_hold(store, dpo, owner, settings):
    """Tried: a hold on the erasure request itself (scope "request"), the request carried out, then the
    jurisdiction sweep with the photo's country excluded. Expect: neither erases it while the hold stands;
    once released, the jurisdiction sweep does."""
    mine = store["img1.jpg"]
    req = _approved("erasure", dpo)
    hold = _hold(dpo, request_reference=req.reference)
    services.request_execute(request=req, actor=dpo)
    SourceImage.objects.filter(pk=mine.pk).update(
        jurisdiction="GB"
    )  # test setup: the photo is British
    Face.objects.filter(image=mine).update(jurisdiction="GB")
    settings.EXCLUDED_JURISDICTIONS = ["GB"]
    receipt = jurisdiction_sweep(actor=dpo)
    _kept_out_of_search(mine)
    assert receipt.held >= 1
    legal_hold_release(hold=hold, actor=dpo)
    jurisdiction_sweep(actor=dpo)
    _gone(mine)


# --- restriction × lift, excluded jurisdiction × rectification -----------------------------------------------


def _lift_keeps_held_erasure(store, dpo, owner):
    """Tried: the person's erasure, kept under a source hold, then a restriction of theirs lifted by the DPO.
    Expect: the face stays restricted (it waits for its erasure), the lift's audit counts it as kept."""
    mine = store["img1.jpg"]
    _hold(dpo, source_label=SOURCE)
    restriction = _approved("restriction", dpo)
    _carry_out("erasure", dpo)
    services.request_execute(request=restriction, actor=dpo)
    services.restriction_lift(
        request=SubjectRequest.objects.get(pk=restriction.pk), actor=dpo, reason="claim settled"
    )
    _kept_out_of_search(mine)
    event = AuditEvent.objects.filter(action="search.faces.restriction_lifted").latest("pk")
    assert event.details["kept_restricted"] == 1 and event.details["faces"] == 0


def _rectification_into_excluded(store, dpo, owner, settings):
    """Tried: a rectification of the person's country to GB, excluded, no hold. Expect: the photo is erased
    like the jurisdiction sweep would, not left searchable under an excluded country."""
    settings.EXCLUDED_JURISDICTIONS = ["GB"]
    mine = store["img1.jpg"]
    _carry_out("rectification", dpo, jurisdiction="GB")
    _gone(mine)
    assert SourceImage.objects.filter(pk=store["img3.jpg"].pk).exists()


# --- suppression × objection -------------------------------------------------------------------------------


def _objection_suppresses_in_search(store, dpo, owner):
    """Tried: an objection with consent to keep the template. Expect: the suppression list is search's (the
    import reads it there): img1 again is refused before anything is written, and the entries were audited."""
    from search import services as search_services
    from search.models import Suppression

    _carry_out("objection", dpo, consent=True)
    assert Suppression._meta.app_label == "search"
    assert Suppression.objects.filter(kind=Suppression.Kind.TEMPLATE).exists()
    before = SourceImage.objects.count()
    again = search_services.source_image_store(
        data=photos.photo("img1.jpg"), source_label="re-import"
    )
    assert (
        again.image is None
        and again.skipped == "suppressed"
        and SourceImage.objects.count() == before
    )
    assert AuditEvent.objects.filter(action="search.suppression.added").exists()


# --- what the DPO sees --------------------------------------------------------------------------------------


def _dpo_sees_held_photos_first(store, dpo, owner, client):
    """Tried: a source hold, an approved erasure, the DPO's request page before carrying it out. Expect: the
    page lists the held photo (its number and source) and says it will not be erased."""
    mine = store["img1.jpg"]
    _hold(dpo, source_label=SOURCE)
    req = _approved("erasure", dpo)
    client.force_login(dpo)
    page = client.get(reverse("subjects:detail", args=[req.reference])).content.decode()
    assert "Photos under a legal hold" in page
    section = page[page.index('id="held-photos"') :]
    assert f"Photo {mine.pk} from {SOURCE}" in section and "will not erase" in section


def _dpo_cannot_erase_with_undecided(store, dpo, owner, client):
    """Tried: an erasure approved while one candidate is still undecided, then "Carry it out now". Expect: a
    clear error, the request still approved, the photo still there."""
    req = _request("erasure")
    candidates = list(req.candidates.all())
    services.candidate_decide(candidate=candidates[0], confirm=True, actor=dpo)
    extra = index_photos("img4.jpg")[
        "img4.jpg"
    ].faces.get()  # a further photo of person01, still proposed
    Candidate.objects.create(
        request=req, face=extra, face_ref=extra.pk, borderline=True, found_by="url"
    )
    req = services.request_transition(request=req, action="approve", actor=dpo)
    with pytest.raises(ValidationError, match="still undecided"):
        services.request_execute(request=req, actor=dpo)
    client.force_login(dpo)
    response = client.post(
        reverse("subjects:detail", args=[req.reference]), {"action": "execute"}, follow=True
    )
    assert "still undecided" in response.content.decode()
    assert SubjectRequest.objects.get(pk=req.pk).status == S.APPROVED
    assert SourceImage.objects.filter(pk=store["img1.jpg"].pk).exists()


def _dpo_reads_erased_photos(store, dpo, owner, client):
    """Tried: an erasure carried out, then the DPO's page. Expect: the erased face reads "Erased photo" with
    the request's reference, not a raw id such as "erased (114)"."""
    face_id = store["img1.jpg"].faces.get().pk
    req = _carry_out("erasure", dpo)
    client.force_login(dpo)
    page = client.get(reverse("subjects:detail", args=[req.reference])).content.decode()
    assert f"Erased photo ({req.reference}," in page
    assert f"erased ({face_id})" not in page


# --- the person's email ---------------------------------------------------------------------------------------


def _german_email_under_hold(store, dpo, owner):
    """Tried: an erasure filed in German under a source hold. Expect: the email and the status page's timeline,
    in German, say what was erased and that one photo is kept under a legal obligation and erased when it ends."""
    _hold(dpo, source_label=SOURCE)
    req = _carry_out("erasure", dpo, language="de")
    body = mail.outbox[-1].body
    assert req.reference in mail.outbox[-1].subject
    assert "Wir haben Ihre Fotos gelöscht" in body
    assert "Wir müssen 1 Foto vorerst aufbewahren" in body and "rechtliche Verpflichtung" in body
    with translation.override("de"):  # the status page's timeline says the same
        done = [step for step in request_timeline(request=req) if step.key == "completed"]
    assert "Wir müssen 1 Foto vorerst aufbewahren" in done[0].detail


def _french_objection_email_under_hold(store, dpo, owner):
    """Tried: an objection filed in French under a source hold. Expect: the French email says one photo is kept
    under a legal obligation."""
    _hold(dpo, source_label=SOURCE)
    _carry_out("objection", dpo, language="fr")
    assert "Nous devons conserver 1 photo pour l'instant" in mail.outbox[-1].body


ROWS = [
    ("legal hold × erasure", _erasure_under_source_hold),
    ("legal hold × objection", _objection_under_face_hold),
    ("legal hold × rectification", _rectification_into_excluded_under_hold),
    ("legal hold × retention sweep", _retention_sweep_after_hold),
    ("legal hold × jurisdiction sweep", _jurisdiction_sweep_under_request_hold),
    ("restriction × lift", _lift_keeps_held_erasure),
    ("excluded jurisdiction × rectification", _rectification_into_excluded),
    ("suppression × objection", _objection_suppresses_in_search),
    ("what the DPO sees × held photos before erasure", _dpo_sees_held_photos_first),
    ("what the DPO sees × undecided candidate", _dpo_cannot_erase_with_undecided),
    ("what the DPO sees × erased photo", _dpo_reads_erased_photos),
    ("the person's email × erasure under hold (de)", _german_email_under_hold),
    ("the person's email × objection under hold (fr)", _french_objection_email_under_hold),
]


@pytest.mark.parametrize("row", [r[1] for r in ROWS], ids=[r[0] for r in ROWS])
def test_erasure_paths(row, request, store, dpo, owner):
    """One row of the matrix (see each row's docstring for the input tried and what is asserted)."""
    names = row.__code__.co_varnames[: row.__code__.co_argcount]
    extra = {
        name: request.getfixturevalue(name)
        for name in names
        if name not in ("store", "dpo", "owner")
    }
    row(store, dpo, owner, **extra)


# --- what the DPO sees on a phone (a real Chromium) -------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing")
@pytest.mark.parametrize("width", [375], ids=["what the DPO sees × candidate table at 375 px"])
def test_dpo_candidate_table_on_a_phone(width, live_server, browser, store, settings):  # noqa: F811
    """Tried: an erasure request with proposed candidates (real faces), a long source label, and the DPO's page
    opened at 375 px. Expect: no sideways page scroll, and every Confirm and Reject button on screen."""
    from tests.accounts import factories

    settings.SUBJECT_BORDERLINE_FACTOR = 3.0  # the other person's face is proposed too: more rows
    SourceImage.objects.update(
        source_label="Regional newspaper archive, photographs of public events 2019-2024"
    )
    req = _request("erasure")
    assert req.candidates.filter(status=Candidate.Status.PROPOSED, face__isnull=False).exists()
    dpo = factories.staff("dpo", email="phone-dpo@facesearch.example")
    secret = factories.with_totp(dpo)
    context = browser.new_context(viewport={"width": width, "height": 740})
    page = context.new_page()
    _login(page, live_server.url, dpo, secret)
    page.goto(f"{live_server.url}{reverse('subjects:detail', args=[req.reference])}")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    buttons = page.locator("table.candidates button")
    assert buttons.count() >= 2
    for i in range(buttons.count()):
        box = buttons.nth(i).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, (
            buttons.nth(i).inner_text(),
            box,
        )
    context.close()
