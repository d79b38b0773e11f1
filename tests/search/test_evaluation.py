"""search.evaluation: the metric functions against cases worked out by hand (no model, no database)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import ndtri

from search import evaluation as ev
from search.calibration import Calibration

INF = np.inf


def test_best_threshold_separates_a_clean_set():
    """Two same pairs at 0.1/0.2, two different at 0.3/0.4: the midpoint 0.25 is the only perfect cut."""
    t, acc = ev.best_accuracy_threshold(
        np.array([0.1, 0.2, 0.3, 0.4]), np.array([1, 1, 0, 0], bool)
    )
    assert t == pytest.approx(0.25) and acc == 1.0


def test_fold_protocol_picks_the_threshold_on_the_other_folds():
    """By hand: held-out fold 0 gets 0.525 from folds 1-2 (same ≤ 0.45 < 0.6 different), which lets its
    different pair at 0.5 through (0.5); fold 1 gets 0.475 (1.0); fold 2 gets 0.35, which rejects its
    same pair at 0.45 (0.5). Mean 0.6667 ± 0.2887, where one in-sample threshold would score 5/6."""
    d = np.array([0.1, 0.5, 0.2, 0.6, 0.45, 0.7])
    same = np.array([1, 0, 1, 0, 1, 0], bool)
    folds = np.array([0, 0, 1, 1, 2, 2])
    results = ev.fold_accuracies(d, same, folds)
    assert [r.accuracy for r in results] == [0.5, 1.0, 0.5]
    assert [round(r.threshold, 4) for r in results] == [0.525, 0.475, 0.35]
    mean, sd = ev.mean_sd([r.accuracy for r in results])
    assert mean == pytest.approx(2 / 3) and sd == pytest.approx(math.sqrt(1 / 12))


def test_fold_protocol_refuses_one_fold():
    """Bad input: every pair in one fold leaves nothing to choose a threshold on."""
    with pytest.raises(ValueError, match="two folds"):
        ev.fold_accuracies(np.array([0.1, 0.2]), np.array([1, 0], bool), np.array([0, 0]))


def test_no_face_pairs_count_as_different_and_stay_in_the_denominator():
    """A same pair whose photo had no face (inf) is an error; a different pair with no face is right."""
    d = np.array([0.1, INF, 0.5, INF])
    same = np.array([1, 1, 0, 0], bool)
    assert ev.accuracy_at(d, same, 0.3) == 0.75
    t, acc = ev.best_accuracy_threshold(d, same)
    assert acc == 0.75 and math.isfinite(t)


def test_threshold_at_far_lets_through_exactly_the_allowed_impostors():
    """1,000 impostors at 0.001 … 1.000: FAR 1 % allows the ten smallest and stops under the 11th."""
    impostor = np.arange(1, 1001) / 1000
    t = ev.threshold_at_far(impostor, 0.01)
    assert 0.010 <= t < 0.011
    tar, far = ev.tar_far(np.array([0.005, 0.0105, 0.02]), impostor, t)
    assert far == 0.01 and tar == pytest.approx(2 / 3)


def test_threshold_at_far_keeps_tied_impostors_out():
    """Two impostors tied at 0.1 with FAR 25 % of four: letting one in lets both in (50 %), so neither."""
    t = ev.threshold_at_far(np.array([0.1, 0.1, 0.2, 0.3]), 0.25)
    assert t < 0.1
    assert ev.tar_far(np.array([0.05]), np.array([0.1, 0.1, 0.2, 0.3]), t) == (1.0, 0.0)


def _unit(angle_deg: float) -> np.ndarray:
    a = math.radians(angle_deg)
    return np.array([math.cos(a), math.sin(a), 0.0])


def test_open_set_rank_any_and_nonmated_best_score():
    """Gallery A (0°) and B (90°). Mated probe of A at 20° (d≈0.060); mated probe of A at 60° is nearer
    B (d 0.5 vs 0.134) but its mate still passes a 0.2 threshold (rank any); a mated probe with no face
    (NaN) is always a miss; a non-mated probe at 45° has best distance ≈0.293."""
    gallery = np.stack([_unit(0), _unit(90)])
    probes = np.stack([_unit(20), _unit(60), np.full(3, np.nan), _unit(45)])
    scores = ev.open_set_scores(
        gallery, np.array(["A", "B"]), probes, np.array(["A", "A", "B", "C"])
    )
    assert scores.mate_distance[:2] == pytest.approx([1 - math.cos(math.radians(20)), 0.5])
    assert scores.nonmated_best == pytest.approx([1 - math.cos(math.radians(45))])
    assert ev.fpir_fnir(scores, 0.2) == (
        0.0,
        pytest.approx(2 / 3),
    )  # 60° mate at 0.5 and the faceless one miss
    assert ev.fpir_fnir(scores, 0.55) == (1.0, pytest.approx(1 / 3))


def test_open_set_refuses_two_gallery_entries_for_one_person():
    with pytest.raises(ValueError, match="one gallery entry"):
        ev.open_set_scores(np.eye(2), np.array(["A", "A"]), np.eye(2), np.array(["A", "B"]))


def test_fmr_for_fpir_inverts_the_independence_formula():
    fmr = ev.fmr_for_fpir(0.01, 100)
    assert 1 - (1 - fmr) ** 100 == pytest.approx(0.01)
    assert fmr == pytest.approx(1.005e-4, rel=1e-3)


def test_person_folds_keep_each_person_in_one_fold():
    ids = np.array(["a", "a", "b", "c", "c", "c", "d", "e"])
    folds = ev.person_folds(ids, 3)
    for person in set(ids):
        assert len(set(folds[ids == person])) == 1
    assert set(folds) == {0, 1, 2}
    with pytest.raises(ValueError, match="at least 9 people"):
        ev.person_folds(ids, 9)


def test_lower_tail_fit_recovers_a_known_normal_tail():
    """Impostor distances built so that probit(FMR(d)) = -6 + 40 d exactly: the fit gives back (-6, 40)."""
    n = 200_000
    k = np.arange(1, n + 1)
    d = (ndtri(k / n) + 6) / 40
    a, b = ev.fit_lower_tail(d)
    assert a == pytest.approx(-6, abs=1e-3) and b == pytest.approx(40, rel=1e-4)


def test_reliability_is_zero_for_perfect_and_large_for_reversed_predictions():
    same = np.array([1, 1, 0, 0], bool)
    d = np.zeros(4)
    assert ev.reliability(d, same, np.array([1.0, 1.0, 0.0, 0.0]))["ece"] == pytest.approx(
        0, abs=1e-5
    )
    assert ev.reliability(d, same, np.array([0.0, 0.0, 1.0, 1.0]))["ece"] == pytest.approx(
        1, abs=1e-5
    )


CAL = Calibration(
    model="test",
    threshold=0.07,
    slope=100.0,
    midpoint=0.07,
    fmr_curve=((0.05, 1e-5), (0.07, 1e-3), (0.09, 1e-2)),
    tail=(float(ndtri(1e-5)) - 5.0, 100.0),  # FMR = Phi(a + 100 d): meets the curve at (0.05, 1e-5)
)
D_1E8 = (float(ndtri(1e-8)) - float(ndtri(1e-5)) + 5.0) / 100  # the tail's distance for FMR 1e-8


@pytest.mark.parametrize(
    ("size", "point", "expected"),
    [
        (1, "strict", 0.07),  # never looser than FMR 1e-3
        (10, "strict", 0.07),  # 0.01 / 10 = 1e-3
        (1_000, "strict", 0.05),  # 1e-5: the last measured point
        (1_000_000, "strict", D_1E8),  # 1e-8: from the tail (≈ 0.0168)
        (10**40, "strict", 0.0),  # the tail would go under 0: floored
        (10, "candidate", 0.09),  # FMR capped at 1e-2
        (10_000, "candidate", 0.07),  # 10 / 1e4 = 1e-3
        (
            1_000_000,
            "candidate",
            0.06,
        ),  # 10 / 1e6 = 1e-5, under the 1e-4 floor: log-halfway from 1e-5 to 1e-3
        (10**9, "candidate", 0.06),  # the floor holds however large the index
    ],
)
def test_threshold_tightens_with_the_index_size(size, point, expected):
    assert CAL.search_threshold(size, point=point) == pytest.approx(expected, abs=1e-9)


def test_fmr_at_reads_the_curve_and_the_tail():
    assert CAL.fmr_at(0.07) == pytest.approx(1e-3)
    assert CAL.fmr_at(0.08) == pytest.approx(10**-2.5)  # log-linear between points
    assert CAL.fmr_at(D_1E8) == pytest.approx(1e-8)


def test_unknown_operating_point_is_refused():
    with pytest.raises(LookupError, match="no operating point"):
        CAL.search_threshold(10, point="lenient")
