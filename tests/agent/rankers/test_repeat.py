"""The repeat score: the orders hand-made purchase histories should produce."""

from __future__ import annotations

import numpy as np
import pytest

from agent.rankers.repeat import RepeatConfig, RepeatScorer
from agent.rankers.sequences import build_user_sequences

DAY = 86400.0
NOW = 400 * DAY


def _scorer(config: RepeatConfig | None = None, items=("weekly", "yearly", "a", "b", "never")) -> RepeatScorer:
    return RepeatScorer(items, config)


def _order(scores: np.ndarray, ids) -> list[str]:
    return [ids[i] for i in np.argsort(-scores, kind="stable") if np.isfinite(scores[i])]


def test_an_item_bought_every_week_beats_one_bought_once_a_year_ago():
    scorer = _scorer()
    history = ["weekly"] * 8 + ["yearly"]
    times = [NOW - 7 * DAY * k for k in range(8, 0, -1)] + [NOW - 365 * DAY]
    scores = scorer.score(history, times, NOW)
    assert _order(scores, scorer.item_ids) == ["weekly", "yearly"]


def test_never_bought_items_are_not_proposed():
    scorer = _scorer()
    scores = scorer.score(["a"], [NOW - DAY], NOW)
    assert np.isinf(scores[scorer.item_ids.index("never")]) and scores[scorer.item_ids.index("never")] < 0
    assert np.isfinite(scores[scorer.item_ids.index("a")])


def test_an_item_due_by_its_cycle_beats_one_just_bought():
    """Both bought three times; "a" every 7 days and last bought 7 days ago (due), "b" about every 10 days
    and bought yesterday (more recent, so first by recency alone, but not due): the cycle puts "a" first."""
    scorer = _scorer(RepeatConfig(cycle_weight=1.0, cycle_width=0.5, prior_gaps=0.0))
    history = ["a", "a", "a", "b", "b", "b"]
    times = [NOW - 21 * DAY, NOW - 14 * DAY, NOW - 7 * DAY, NOW - 20 * DAY, NOW - 10 * DAY, NOW - 1 * DAY]
    assert _order(scorer.score(history, times, NOW), scorer.item_ids) == ["a", "b"]
    without_cycle = _scorer(RepeatConfig(cycle_weight=0.0))
    assert _order(without_cycle.score(history, times, NOW), scorer.item_ids) == ["b", "a"], "recency alone"


def test_more_purchases_beat_fewer_at_the_same_recency():
    scorer = _scorer(RepeatConfig(cycle_weight=0.0))
    scores = scorer.score(["a", "b", "b"], [NOW - DAY, NOW - 2 * DAY, NOW - DAY], NOW)
    assert _order(scores, scorer.item_ids) == ["b", "a"]


def test_two_lines_of_one_item_in_one_basket_are_one_purchase():
    scorer = _scorer(RepeatConfig(cycle_weight=0.0))
    once = scorer.score(["a"], [NOW - DAY], NOW)
    twice_same_time = scorer.score(["a", "a"], [NOW - DAY, NOW - DAY], NOW)
    assert once[2] == pytest.approx(twice_same_time[2])


def test_fit_learns_each_items_median_gap_over_users():
    ids = ("milk", "grill")
    sequences = build_user_sequences(
        ["u1"] * 3 + ["u2"] * 2 + ["u3"], ["milk", "milk", "milk", "milk", "milk", "grill"],
        [0, 7 * DAY, 14 * DAY, 0, 9 * DAY, 0], item_ids=ids)
    scorer = RepeatScorer(ids).fit(sequences)
    assert scorer.cycle_days[0] == pytest.approx(7.0)
    assert scorer.cycle_days[1] == pytest.approx(7.0), "nobody re-bought the grill: the median of all gaps"


def test_mismatched_lengths_and_vocabularies_are_refused():
    scorer = _scorer()
    with pytest.raises(ValueError, match="times"):
        scorer.score(["a"], [], NOW)
    other = build_user_sequences(["u"], ["x"], [0.0])
    with pytest.raises(ValueError, match="vocabulary"):
        scorer.fit(other)


def test_the_score_is_deterministic_and_defaults_now_to_the_newest_purchase():
    scorer = _scorer()
    history, times = ["a", "b", "a"], [NOW - 10 * DAY, NOW - 5 * DAY, NOW]
    first = scorer.score(history, times)
    assert np.array_equal(first, scorer.score(history, times, NOW))
    assert np.array_equal(first, scorer.score(history, times))
