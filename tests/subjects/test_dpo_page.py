"""The DPO's request page: bulk decisions, states instead of buttons, unique form ids, reasons only
where they are sent, a readable erasure receipt. Real model on the shared photos."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from django.urls import reverse

from compliance.models import AuditEvent
from subjects import services
from subjects.models import SubjectRequest
from tests.search import photos
from tests.search.conftest import index_photos
from tests.subjects.requests_support import prove_identity, submit, verify

pytestmark = pytest.mark.django_db(transaction=True)

S = SubjectRequest.Status


@pytest.fixture
def request_with_candidates(client, settings):
    """Three photos of person01 and one of someone else; a loose band so the stranger is proposed too."""
    settings.SUBJECT_BORDERLINE_FACTOR = 3.0
    index_photos("img1.jpg", "img4.jpg", "img5.jpg", "img3.jpg")
    req = submit(client, "erasure", selfie=photos.photo("img2.jpg"))
    verify(client)
    assert req.candidates.count() >= 3
    return SubjectRequest.objects.get(pk=req.pk)


def _ids(html: str) -> Counter[str]:
    return Counter(re.findall(r'\sid="([^"]+)"', html))


def test_confirm_all_shown_then_states_not_buttons(client, dpo, request_with_candidates):
    req = request_with_candidates
    client.force_login(dpo)
    url = reverse("subjects:detail", args=[req.reference])
    page = client.get(url).content.decode()
    assert "Confirm all" in page and "Reject all" in page
    shown = list(req.candidates.values_list("pk", flat=True))
    # A candidate that was not on the page the DPO saw (found since) is not decided by the bulk action.
    late = req.candidates.get(pk=shown.pop())
    response = client.post(url, {"action": "confirm_all", "shown": shown}, follow=True)
    assert (
        response.status_code == 200
        and f"Confirmed {len(shown)} candidates" in response.content.decode()
    )
    assert set(req.candidates.filter(pk__in=shown).values_list("status", flat=True)) == {
        "confirmed"
    }
    late.refresh_from_db()
    assert late.status == "proposed"
    page = response.content.decode()
    for pk in shown:
        row = re.search(rf'<tr id="candidate-{pk}">.*?</tr>', page, re.S).group(0)
        assert 'value="confirm"' not in row and "Confirmed" in row
    event = AuditEvent.objects.filter(action="subjects.request.candidate_confirmed").latest("pk")
    assert event.details["bulk"] is True and len(event.details["faces"]) == len(shown)
    # Nothing proposed among those shown: a clear message, nothing changes.
    again = client.post(url, {"action": "reject_all", "shown": shown}, follow=True)
    assert b"nothing changed" in again.content
    assert set(req.candidates.filter(pk__in=shown).values_list("status", flat=True)) == {
        "confirmed"
    }


def test_reject_all_shown(client, dpo, request_with_candidates):
    req = request_with_candidates
    client.force_login(dpo)
    shown = list(req.candidates.values_list("pk", flat=True))
    client.post(
        reverse("subjects:detail", args=[req.reference]), {"action": "reject_all", "shown": shown}
    )
    assert set(req.candidates.values_list("status", flat=True)) == {"rejected"}


def test_form_ids_are_unique_and_reasons_only_where_sent(client, dpo, request_with_candidates):
    """Two `id_reason` fields used to collide; approve must not ask for a reason nobody reads."""
    req = request_with_candidates
    client.force_login(dpo)
    url = reverse("subjects:detail", args=[req.reference])
    page = client.get(url).content.decode()
    duplicates = [i for i, n in _ids(page).items() if n > 1]
    assert duplicates == []
    assert 'id="id_reason"' not in page
    for prefix in ("ask_clarification", "deny", "extend"):
        assert f'id="id_{prefix}-reason"' in page
    approve_form = re.search(
        r'<form method="post">(?:(?!</form>).)*value="approve".*?</form>', page, re.S
    ).group(0)
    assert "textarea" not in approve_form
    # A refusal takes its reason from its own field, and an empty one is refused with a message.
    empty = client.post(
        url,
        {"action": "deny", "deny-reason": "", "ask_clarification-reason": "not this one"},
        follow=True,
    )
    assert (
        b"Give the reason" in empty.content
        and SubjectRequest.objects.get(pk=req.pk).status == S.IN_REVIEW
    )
    client.post(url, {"action": "deny", "deny-reason": "Manifestly unfounded"})
    req.refresh_from_db()
    assert req.status == S.DENIED and req.decision_reason == "Manifestly unfounded"


def test_unknown_action_is_a_message_not_an_error_page(client, dpo, request_with_candidates):
    client.force_login(dpo)
    response = client.post(
        reverse("subjects:detail", args=[request_with_candidates.reference]),
        {"action": "x"},
        follow=True,
    )
    assert response.status_code == 200 and b"Unknown action" in response.content


def test_erasure_receipt_is_a_readable_table(client, dpo, request_with_candidates):
    req = request_with_candidates
    # Every candidate decided (an erasure is not carried out while one is undecided): likely ones confirmed.
    for candidate in req.candidates.all():
        services.candidate_decide(candidate=candidate, confirm=not candidate.borderline, actor=dpo)
    req = services.request_transition(
        request=SubjectRequest.objects.get(pk=req.pk), action="approve", actor=dpo
    )
    prove_identity(req, dpo)
    services.request_execute(request=req, actor=dpo)
    client.force_login(dpo)
    page = client.get(reverse("subjects:detail", args=[req.reference])).content.decode()
    receipt = re.search(r'<table class="receipt">.*?</table>', page, re.S).group(0)
    assert "Images erased" in receipt and "Checked afterwards: nothing left</th><td>Yes" in receipt
    assert "{" not in receipt and "&#x27;" not in receipt  # not a Python dict
