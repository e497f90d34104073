"""The forecast benchmark's scores: cross-entropy, Brier, hit@3 on shift cases, calibration error."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.eval.forecast_metrics import brier, calibration, cross_entropy, score_method


def test_cross_entropy_and_brier_of_a_known_forecast():
    p, q = np.array([0.5, 0.25, 0.25]), np.array([1.0, 0.0, 0.0])
    assert cross_entropy(p, q) == pytest.approx(math.log(2))
    assert brier(p, q) == pytest.approx(0.25 + 0.0625 + 0.0625)
    assert cross_entropy(np.array([0.0, 1.0]), np.array([1.0, 0.0])) > 20  # an impossible answer costs, never inf


def test_hit_at_3_counts_shift_cases_apart_and_follows_a_given_ranking():
    truths = [np.array([0, 0, 0, 1.0]), np.array([1.0, 0, 0, 0])]
    recents = [np.array([1.0, 0, 0, 0]), np.array([1.0, 0, 0, 0])]  # case 1 shifts (0 -> 3), case 2 stays
    mix = [np.array([0.4, 0.3, 0.2, 0.1])] * 2  # node 3 is fourth: a miss on the shift case
    scored = score_method(mix, truths, recents)
    assert (scored["hit@3"], scored["shift_hit@3"], scored["shift_cases"]) == (0.5, 0.0, 1)
    ranks = [np.array([0.1, 0.0, 0.0, 0.9])] * 2  # a stated ranking puts node 3 first
    assert score_method(mix, truths, recents, ranks)["shift_hit@3"] == 1.0
    assert score_method(mix, truths, recents, ranks)["xent"] == scored["xent"]  # the mix still scores xent


def test_calibration_error_is_zero_when_stated_rates_come_true_and_large_when_overconfident():
    stated = [0.2] * 10 + [0.8] * 10
    happened = [True] * 2 + [False] * 8 + [True] * 8 + [False] * 2
    exact = calibration(stated, happened)
    assert exact["ece"] == pytest.approx(0.0) and exact["claims"] == 20
    assert [row["claims"] for row in exact["bins"]] == [10, 10]
    assert calibration([0.9] * 10, [False] * 10)["ece"] == pytest.approx(0.9)
    assert calibration([], [])["ece"] is None


def test_a_method_that_names_fewer_than_three_nodes_gets_no_hit_from_the_unnamed_ones():
    truths, recents = [np.array([0, 0, 1.0])], [np.array([1.0, 0, 0])]
    named_one = [np.array([1.0, -np.inf, -np.inf])]
    assert score_method([np.full(3, 1 / 3)], truths, recents, named_one)["hit@3"] == 0.0
    assert score_method([np.full(3, 1 / 3)], truths, recents, [np.array([1.0, -np.inf, 0.5])])["hit@3"] == 1.0
