"""Splits, candidates and metrics of `shiftrec bench eval`, on tiny hand-made data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from agent.rankers.sequences import build_user_sequences, leave_one_out
from bench.eval.protocols import (
    MISS_RANK,
    candidate_ranks,
    filtered_sequences,
    full_ranks,
    k_core,
    metrics,
    protocol_metrics,
    sampled_candidates,
    seeded_subsample,
    top_unseen,
)


def _sequences():
    rng = np.random.default_rng(1)
    users, items, times = [], [], []
    for user in range(6):
        chosen = rng.choice(40, size=8 + user, replace=False)
        users += [f"u{user}"] * len(chosen)
        items += chosen.tolist()
        times += list(range(len(chosen)))
    return build_user_sequences(users, items, times)


def test_leave_one_out_holds_out_the_last_two_by_time():
    seqs = build_user_sequences(["a"] * 4, [10, 11, 12, 13], [4, 1, 3, 2])  # time order: 11, 13, 12, 10
    split = leave_one_out(seqs)
    index = {item: i for i, item in enumerate(seqs.item_ids)}
    assert split.test.targets[0] == index[10]
    assert split.validation.targets[0] == index[12]
    assert split.train.items[0].tolist() == [index[11], index[13]]


def test_sampled_candidates_put_the_target_first_and_never_a_touched_item():
    seqs = _sequences()
    split = leave_one_out(seqs)
    candidates = sampled_candidates(seqs, split.test, seed=3, negatives=19)
    assert candidates.shape == (len(split.test), 20)
    assert (candidates[:, 0] == split.test.targets).all()
    for row, user in enumerate(split.test.users):
        touched = set(seqs.items[seqs.users.index(user)].tolist())
        negatives = candidates[row, 1:].tolist()
        assert not touched & set(negatives)  # includes the validation and test items
        assert len(set(negatives)) == 19


def test_sampled_candidates_are_seeded():
    seqs = _sequences()
    cases = leave_one_out(seqs).test
    same = sampled_candidates(seqs, cases, seed=5)
    assert (same == sampled_candidates(seqs, cases, seed=5)).all()
    assert not (same == sampled_candidates(seqs, cases, seed=6)).all()


def test_too_few_untouched_items_is_an_error():
    seqs = build_user_sequences(["a"] * 5, [0, 1, 2, 3, 4], range(5))
    with pytest.raises(ValueError, match="untouched"):
        sampled_candidates(seqs, leave_one_out(seqs).test, seed=0, negatives=3)


def test_k_core_filters_until_stable():
    # item 9 has 1 row -> dropped, so user c (1 row left) goes; user d has 1 row -> dropped,
    # so item 3 falls to 1 row and goes too
    users = np.array(["a", "a", "b", "b", "c", "c", "d", "b"])
    items = np.array([1, 2, 1, 2, 1, 9, 3, 3])
    keep = k_core(users, items, 2)
    assert set(zip(users[keep].tolist(), items[keep].tolist())) == {("a", 1), ("a", 2), ("b", 1), ("b", 2)}


def test_rating_filter_comes_before_the_core():
    users = np.array(["a", "a", "b", "b"])
    items = np.array([1, 2, 1, 2])
    ratings = np.array([5, 2, 4, 4], dtype=float)
    seqs = filtered_sequences(users, items, ratings, np.arange(4.0), min_rating=3, core=1)
    assert sum(len(i) for i in seqs.items) == 3


def test_ranks_are_pessimistic_on_ties():
    assert candidate_ranks(np.array([[1.0, 1.0, 0.0], [3.0, 2.0, 1.0], [0.0, 1.0, 2.0]])).tolist() == [1, 0, 2]
    scores = np.array([[0.5, 0.9, 0.5, 0.1]])
    # item 1 is in the history: it does not compete; item 2 ties with the target
    assert full_ranks(scores, [np.array([1])], np.array([0])).tolist() == [1]


def test_top_unseen_skips_history_and_keeps_order():
    items, values = top_unseen(np.array([0.1, 0.9, 0.5, 0.5, 0.3]), np.array([1]), 3)
    assert items.tolist() == [2, 3, 4]
    assert values.tolist() == [0.5, 0.5, 0.3]


def test_metrics_match_hand_computation():
    ranks = np.array([0, 1, 4, 20])
    m = metrics(ranks, (1, 5, 10))
    assert m["ndcg@1"] == pytest.approx(0.25)
    assert m["hr@5"] == pytest.approx(0.75)
    ndcg5 = (1 + 1 / math.log2(3) + 1 / math.log2(6)) / 4
    assert m["ndcg@5"] == pytest.approx(round(ndcg5, 4))
    assert m["map@10"] == pytest.approx(round((1 + 1 / 2 + 1 / 5) / 4, 4))
    assert m["users"] == 4


def test_p3_reports_recall_and_a_miss_counts_as_zero():
    m = protocol_metrics("p3", np.array([0, MISS_RANK]))
    assert m["recall@10"] == 0.5 and m["hr@10"] == 0.5
    assert m["ndcg@5"] == 0.5


def test_seeded_subsample_is_stable_and_ordered():
    users = [f"u{i}" for i in range(50)]
    a = seeded_subsample(users, 10, seed=1)
    assert a == seeded_subsample(users, 10, seed=1)
    assert a == [u for u in users if u in set(a)]
    assert seeded_subsample(users, None, 1) == users
