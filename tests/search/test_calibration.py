"""The committed operating points (search/calibration.json) and how searches and subject requests use them."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import TestCase

from compliance.models import AuditEvent
from search import calibration, engine, services
from search.models import Face, SearchRequest
from tests.search import photos

FIELDS = {
    "purpose": "Identify a fraud suspect",
    "lawful_basis": "legitimate_interests",
    "case_reference": "CASE-42",
}


def committed() -> calibration.Calibration:
    return calibration.calibration_for(engine.model_name())


def test_committed_points_tighten_with_the_index_and_record_how_they_were_obtained():
    """The strict point for 1M faces is stricter than for 10; each point says what it targets; the file
    records the sets, photos, people and folds it was fitted on; the curve is measured, not assumed."""
    cal = committed()
    assert (
        cal.search_threshold(10)
        > cal.search_threshold(10_000)
        > cal.search_threshold(1_000_000)
        >= 0
    )
    assert cal.search_threshold(10, point="candidate") > cal.search_threshold(
        10
    )  # the review band errs toward recall
    # At 10,000 faces the strict point keeps the expected strangers per search at its target.
    assert cal.fmr_at(cal.search_threshold(10_000)) * 10_000 == pytest.approx(0.01, rel=0.05)
    entry = calibration._load()[engine.model_name()]
    source = entry["obtained_from"]
    assert source["people"] >= 146 and source["photos"] >= 1210 and source["person_folds"] >= 5
    # Both sets hold Angelina Jolie and Jennifer Aniston under other labels: merged, not counted as strangers.
    assert sorted(source["same_person"]) == ["person01=Angelina_Jolie", "person02=Jennifer_Aniston"]
    assert "--same-person person01=Angelina_Jolie" in source["command"]
    assert {s["images"].rsplit("/", 2)[-2] for s in source["sets"]} == {"faces", "faces-lfw"}
    assert set(entry["operating_points"]) == {"strict", "candidate"}
    assert all(p["means"] for p in entry["operating_points"].values())
    assert "extrapolation" in entry["tail"]["note"]
    assert "labelled pairs" in cal.confidence_meaning
    # The legacy fields stay for older callers.
    assert 0 < cal.threshold < 0.2 and 0 < cal.confidence(cal.threshold / 2) <= 1


def _run(search: SearchRequest) -> SearchRequest:
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.search_process_probe(search_id=search.pk)
    search.refresh_from_db()
    return search


def _set_index_size(size: int) -> None:
    cache.set(f"search:index-size:{engine.model_name()}", size, 300)


@pytest.mark.django_db
def test_search_uses_the_threshold_for_the_live_index_size(indexed, teammate):
    """The same probe (img2, person01) against the same faces: with an index of 10 the strict point finds
    img1; told the index holds 1M faces, the threshold is stricter and img1 is no longer a match. The
    threshold and index size used are in the audit event."""
    _set_index_size(10)
    small = _run(
        services.search_create(user=teammate, image_data=photos.photo("img2.jpg"), **FIELDS)
    )
    hits = list(small.hits.all())
    assert [h.face.image_id for h in hits] == [indexed["img1.jpg"].pk]
    distance = hits[0].distance
    _set_index_size(1_000_000)
    large = _run(
        services.search_create(user=teammate, image_data=photos.photo("img2.jpg"), **FIELDS)
    )
    done = {
        s.pk: AuditEvent.objects.get(target_id=str(s.pk), action="search.search.completed").details
        for s in (small, large)
    }
    assert done[small.pk]["index_size"] == 10 and done[large.pk]["index_size"] == 1_000_000
    assert done[large.pk]["threshold"] < done[small.pk]["threshold"]
    assert done[large.pk]["threshold"] < distance  # so the same face is not a match at 1M
    assert large.hits.count() == 0


@pytest.mark.django_db
def test_index_size_is_the_cached_face_count(indexed):
    """A fresh count of the model's faces, then the cached value (refreshed every few minutes)."""
    cache.clear()
    model = engine.model_name()
    assert calibration.index_size(model) == Face.objects.filter(model=model).count() >= 2
    Face.objects.filter(model=model).delete()
    assert calibration.index_size(model) >= 2  # still the cached count
    cache.clear()
    assert calibration.index_size(model) == 0


@pytest.mark.django_db
def test_subject_bands_are_the_strict_and_candidate_points():
    from subjects.services import _match_bands

    _set_index_size(10_000)
    strict, loose = _match_bands(engine.model_name())
    cal = committed()
    assert strict == pytest.approx(cal.search_threshold(10_000))
    assert (
        loose == pytest.approx(cal.search_threshold(10_000, point="candidate")) and loose > strict
    )


def test_candidate_band_keeps_its_recall_floor_in_a_large_index():
    """In a 1M index, 10 strangers per request would be a per-comparison FMR of 1e-5, where this model finds
    under half of true matches: the candidate band stops at FMR 1e-4 instead (up to 100 strangers for the DPO,
    nearest first), and stays there at 100M. The strict point has no floor and keeps tightening."""
    cal = committed()
    at_1m, at_100m = (
        cal.search_threshold(1_000_000, point="candidate"),
        cal.search_threshold(100_000_000, point="candidate"),
    )
    assert cal.fmr_at(at_1m) == pytest.approx(1e-4, rel=0.05)
    assert at_100m == pytest.approx(at_1m)
    assert cal.search_threshold(100_000_000) <= cal.search_threshold(1_000_000) < at_1m
    # At 10k the band is still set by its 10 strangers per request (FMR 1e-3), above the floor.
    assert cal.fmr_at(cal.search_threshold(10_000, point="candidate")) == pytest.approx(
        1e-3, rel=0.05
    )


def test_true_match_rate_at_a_distance_comes_from_the_cross_validated_curve():
    """tar_at reads the person-cross-validated TAR of the committed curve: it grows with the distance, and
    under the curve's smallest distance it is only an upper bound."""
    cal = committed()
    entry = calibration._load()[engine.model_name()]
    row = entry["fmr_curve"][len(entry["fmr_curve"]) // 2]
    assert cal.tar_at(row["distance"]) == (pytest.approx(row["cv_tar"]), True)
    low, high = (
        cal.tar_at(cal.search_threshold(10_000)),
        cal.tar_at(cal.search_threshold(10_000, point="candidate")),
    )
    assert low is not None and high is not None and 0 <= low[0] < high[0] <= 1
    smallest = min(r["distance"] for r in entry["fmr_curve"])
    assert cal.tar_at(smallest / 2) == (
        pytest.approx(min(r["cv_tar"] for r in entry["fmr_curve"])),
        False,
    )


@pytest.mark.django_db
def test_analyst_is_told_the_level_a_search_ran_at(indexed, teammate, client):
    """A finished search stores its strict threshold and index size; the results page and the API say them,
    with the share of true matches the model finds there, and warn when that share is under half."""
    from django.urls import reverse

    _set_index_size(10)
    small = _run(
        services.search_create(user=teammate, image_data=photos.photo("img2.jpg"), **FIELDS)
    )
    assert small.index_size == 10 and small.match_threshold == pytest.approx(
        committed().search_threshold(10)
    )
    client.force_login(teammate)
    page = client.get(reverse("search:detail", args=[small.pk])).content.decode()
    assert "Searched against 10 faces" in page and "no match does not mean" not in page
    assert f"Confidence: {committed().confidence_meaning}" in page
    _set_index_size(1_000_000)
    large = _run(
        services.search_create(user=teammate, image_data=photos.photo("img2.jpg"), **FIELDS)
    )
    page = client.get(reverse("search:detail", args=[large.pk])).content.decode()
    assert (
        "Searched against 1000000 faces" in page
        and "no match does not mean the person is not indexed" in page
    )
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(teammate)
    point = api.get(reverse("api-search-detail", args=[large.pk])).json()["operating_point"]
    assert point["index_size"] == 1_000_000 and point["max_distance"] == pytest.approx(
        large.match_threshold, abs=1e-5
    )
    assert 0 <= point["true_match_rate"] < 0.5
