"""Ranking metrics against values computed by hand, and the leave-one-out split they serve."""

from __future__ import annotations

import math

import numpy as np
import pytest

from agent.rankers.ranking_metrics import (
    average_precision_at_k,
    evaluate_full_ranking,
    hit_rate_at_k,
    mean_metrics_at_k,
    metrics_from_ranks,
    ndcg_at_k,
    sample_negatives,
    target_ranks,
)
from agent.rankers.sequences import build_user_sequences, leave_one_out


def test_ndcg_hit_and_ap_match_hand_computed_values():
    ranked = ["a", "b", "c", "d", "e"]
    relevant = {"b", "d"}
    # DCG = 1/log2(3) + 1/log2(5); ideal = 1/log2(2) + 1/log2(3)
    expected_ndcg = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert ndcg_at_k(ranked, relevant, 5) == pytest.approx(expected_ndcg)
    assert ndcg_at_k(ranked, relevant, 1) == 0.0
    # only "b" inside the cut; ideal@3 holds two relevant items
    assert ndcg_at_k(ranked, relevant, 3) == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))
    assert hit_rate_at_k(ranked, relevant, 2) == 1.0
    assert hit_rate_at_k(ranked, relevant, 1) == 0.0
    # precision at the hits: 1/2 and 2/4 -> (0.5 + 0.5) / 2
    assert average_precision_at_k(ranked, relevant, 5) == pytest.approx(0.5)
    assert average_precision_at_k(ranked, relevant, 3) == pytest.approx(0.5 / 2)
    assert ndcg_at_k(["b", "d", "a"], relevant, 10) == pytest.approx(1.0)
    assert average_precision_at_k(["b", "d", "a"], relevant, 10) == pytest.approx(1.0)


def test_mean_metrics_average_over_users_and_reject_bad_k():
    result = mean_metrics_at_k([["x", "y"], ["y", "x"]], [{"x"}, {"x"}], k=1)
    assert result == {"ndcg@1": 0.5, "hr@1": 0.5, "map@1": 0.5}
    with pytest.raises(ValueError, match="k must be at least 1"):
        ndcg_at_k(["x"], {"x"}, 0)
    with pytest.raises(ValueError, match="no users"):
        mean_metrics_at_k([], [], 10)


def test_target_ranks_exclude_history_and_count_ties_against_the_target():
    scores = np.array([[0.9, 0.8, 0.1, 0.5], [0.2, 0.2, 0.2, 0.2]])
    # row 0: target 1 (0.8) is beaten only by item 0, which is history -> rank 0
    # row 1: all tied -> the three other items count as ahead -> rank 3
    ranks = target_ranks(scores, np.array([1, 2]), excluded=[{0}, set()])
    assert ranks.tolist() == [0, 3]
    assert target_ranks(scores, np.array([2, 0])).tolist() == [3, 3]
    with pytest.raises(ValueError, match="leaks"):
        target_ranks(scores, np.array([0, 0]), excluded=[{0}, set()])


def test_metrics_from_ranks_match_the_per_list_definitions():
    ranks = np.array([0, 2, 10, 4])
    result = metrics_from_ranks(ranks, k=5)
    assert result["hr@5"] == pytest.approx(3 / 4)
    assert result["ndcg@5"] == pytest.approx((1 + 1 / math.log2(4) + 0 + 1 / math.log2(6)) / 4)
    assert result["map@5"] == pytest.approx((1 + 1 / 3 + 0 + 1 / 5) / 4)
    per_list = mean_metrics_at_k([[0], [9, 9, 0], [9] * 10 + [0], [9, 9, 9, 9, 0]], [{0}] * 4, k=5)
    assert per_list == pytest.approx(result)


def test_sampled_negatives_avoid_the_forbidden_items_and_are_reproducible():
    first = sample_negatives(np.random.default_rng(3), 50, {1, 2, 3}, 20)
    again = sample_negatives(np.random.default_rng(3), 50, {1, 2, 3}, 20)
    assert first.tolist() == again.tolist()
    assert len(set(first.tolist())) == 20 and not {1, 2, 3} & set(first.tolist())
    with pytest.raises(ValueError, match="only 2 items"):
        sample_negatives(np.random.default_rng(0), 4, {0, 1}, 3)


def test_leave_one_out_orders_by_time_and_holds_out_the_last_two():
    # user u: items in time order c(1) a(2) d(3) b(4); user v has too few events to evaluate
    sequences = build_user_sequences(
        users=["u", "u", "v", "u", "u", "v"],
        items=["a", "b", "a", "c", "d", "c"],
        timestamps=[2, 4, 1, 1, 3, 2],
    )
    assert sequences.item_ids == ("a", "b", "c", "d")
    split = leave_one_out(sequences)
    train_u = split.train.items[split.train.users.index("u")]
    assert [sequences.item_ids[i] for i in train_u] == ["c", "a"]
    assert split.train.items[split.train.users.index("v")].tolist() == [0, 2]
    assert split.validation.users == ("u",) and split.test.users == ("u",)
    assert sequences.item_ids[split.validation.targets[0]] == "d"
    assert sequences.item_ids[split.test.targets[0]] == "b"
    assert [sequences.item_ids[i] for i in split.test.histories[0]] == ["c", "a", "d"]
    with pytest.raises(ValueError, match="not in the given item_ids"):
        build_user_sequences(["u"], ["zz"], [0], item_ids=["a"])


def test_full_ranking_evaluation_hides_history_but_not_a_repeated_target():
    sequences = build_user_sequences(["u"] * 4, [0, 1, 2, 1], [1, 2, 3, 4], item_ids=[0, 1, 2, 3])
    cases = leave_one_out(sequences).test  # history 0, 1, 2; target 1 (a repeat)

    def prefer_history(histories, times):
        return np.tile(np.array([3.0, 2.0, 1.0, 0.0]), (len(histories), 1))

    assert evaluate_full_ranking(prefer_history, cases, k=1)["hr@1"] == 1.0
