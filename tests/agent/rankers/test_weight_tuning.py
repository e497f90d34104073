"""Start-up weight tuning: held-out newest events, leak-free proposals, the grid's choice."""

from __future__ import annotations

import math

import numpy as np
import pytest

from agent.rankers.behaviour import BehaviourModels
from agent.rankers.sequences import build_user_sequences, hold_out_last
from agent.rankers.weight_tuning import MIN_TUNING_CASES, TuningCase, choose_weights, held_out_ndcg, sample_rows
from tests.agent_support import TINY_SASREC, build_service

CONFIGURED = {"sequential": 1.0, "itemknn": 1.0, "popularity": 0.1, "memory_long": 0.2, "llm": 0.0}


def _log(users: int = 12) -> list[tuple[str, str, float, float]]:
    """Each user walks a chain of items; everyone's newest event is the same rarely-seen item."""
    rows = []
    for u in range(users):
        for step in range(6):
            rows.append((f"u{u}", f"i{(u + step) % 9}", float(step), 1.0))
        rows.append((f"u{u}", "newest", 10.0, 1.0))
    return rows


def test_hold_out_last_keeps_short_histories_whole():
    sequences = build_user_sequences(["a", "a", "a", "b", "b"], ["x", "y", "z", "x", "y"], [1, 2, 3, 1, 2])
    train, held = hold_out_last(sequences)
    lengths = {user: len(items) for user, items in zip(train.users, train.items, strict=True)}
    assert lengths == {"a": 2, "b": 2}
    assert held.users == ("a",)
    assert sequences.item_ids[int(held.targets[0])] == "z"
    assert [sequences.item_ids[i] for i in held.histories[0]] == ["x", "y"]


def test_tuning_cases_never_see_the_held_out_events(tmp_path):
    models = BehaviourModels.from_log(_log(), tmp_path / "sasrec.pt", config=TINY_SASREC, echo=lambda _: None)
    full_popularity = models.scores(["i0"])["popularity"][models.item_ids.index("newest")]
    assert full_popularity > 0  # the served models count every event
    cases = models.tuning_cases(limit=5, per_source=20)
    assert len(cases) == 5
    for case in cases:
        assert case.target == "newest"
        # refitted without the held-out events: nobody has seen "newest", so nothing scores it above zero
        assert case.per_source["popularity"].get("newest", 0.0) == 0.0
        assert case.per_source["itemknn"].get("newest", 0.0) == 0.0
        assert set(case.per_source) >= {"popularity", "sequential"}
    assert (tmp_path / "sasrec.pt").exists()


def _case(target: str, sequential: list[str], itemknn: list[str]) -> TuningCase:
    """Sources that rank items in the given orders (first = best)."""
    def scores(order: list[str]) -> dict[str, float]:
        return {item: float(len(order) - rank) for rank, item in enumerate(order)}
    return TuningCase({"sequential": scores(sequential), "itemknn": scores(itemknn),
                       "memory_long": {"m": 9.0}}, target)


def test_held_out_ndcg_scores_the_targets_rank():
    first = _case("a", ["a", "b", "c"], ["a", "b", "c"])
    second = _case("b", ["a", "b", "c"], ["a", "b", "c"])
    assert held_out_ndcg([first], {"sequential": 1.0}) == pytest.approx(1.0)
    # memory sources are not part of the tuned fusion, so "m" never pushes the target down
    assert held_out_ndcg([second], {"sequential": 1.0, "memory_long": 5.0}) == pytest.approx(1 / math.log2(3))


def test_choose_weights_follows_the_source_that_ranks_held_out_events():
    items = [f"x{i}" for i in range(12)]
    cases = [_case(items[i % 12], items[::-1], [items[i % 12], *items]) for i in range(MIN_TUNING_CASES)]
    choice = choose_weights(cases, CONFIGURED)
    assert choice.tuned and choice.cases == MIN_TUNING_CASES
    assert choice.weights["itemknn"] == 2.0  # the grid's strongest item-kNN
    assert choice.ndcg > choice.configured_ndcg
    assert choice.weights["memory_long"] == 0.2 and choice.weights["llm"] == 0.0  # untouched
    assert "itemknn 2" in choice.summary()


def test_choose_weights_drops_a_source_that_misleads():
    items = [f"x{i}" for i in range(12)]
    cases = [_case(items[i % 12], [items[i % 12], *items], items[::-1]) for i in range(MIN_TUNING_CASES)]
    assert choose_weights(cases, CONFIGURED).weights["itemknn"] == 0.0


def test_too_few_cases_keep_the_configured_weights():
    cases = [_case("a", ["b", "a"], ["a", "b"])] * (MIN_TUNING_CASES - 1)
    choice = choose_weights(cases, CONFIGURED)
    assert not choice.tuned and choice.weights == CONFIGURED
    assert "too few" in choice.summary()


def test_sample_rows_is_seeded_and_bounded():
    assert list(sample_rows(4, 10)) == [0, 1, 2, 3]
    sample = sample_rows(1000, 300, seed=3)
    assert len(set(sample.tolist())) == 300 and np.all(np.diff(sample) > 0)
    assert np.array_equal(sample, sample_rows(1000, 300, seed=3))


def test_the_service_serves_the_weights_it_was_given(tmp_path):
    choice = choose_weights([_case("a", ["a"], ["a"])] * MIN_TUNING_CASES, CONFIGURED)
    service = build_service(tmp_path, None)
    assert service.source_weights == service.settings.agent.source_weights
    tuned = type(service)(service.settings, service.memory, None, service.behaviour, service.intents, choice)
    assert tuned.source_weights == choice.weights and tuned.weight_choice is choice


def test_repeat_is_tuned_only_where_it_proposes_something():
    items = [f"x{i}" for i in range(12)]
    cases = [_case(items[i % 12], items[::-1], items[::-1]) for i in range(MIN_TUNING_CASES)]
    silent = choose_weights(cases, {**CONFIGURED, "repeat": 1.0})
    assert silent.weights["repeat"] == 1.0 and "repeat" not in silent.summary()
    for i, case in enumerate(cases):  # what the user buys again ranks the held-out event first
        case.per_source["repeat"] = {items[i % 12]: 2.0, items[(i + 1) % 12]: 1.0}
    tuned = choose_weights(cases, {**CONFIGURED, "repeat": 1.0})
    assert tuned.weights["repeat"] > 0 and tuned.ndcg > silent.ndcg and tuned.ndcg == pytest.approx(1.0)
    assert f"repeat {tuned.weights['repeat']:g}" in tuned.summary()


def test_tuning_cases_propose_the_users_own_items_only_when_seen_items_may_return(tmp_path):
    rows = [(f"u{u}", item, float(t), 1.0) for u in range(4) for t, item in enumerate(["a", "b", "a", "b", "a"])]
    models = BehaviourModels.from_log(rows, model_path=None)
    closed = models.tuning_cases(limit=4, per_source=5)
    assert all("repeat" not in case.per_source and "a" not in case.per_source["popularity"] for case in closed)
    open_ = models.tuning_cases(limit=4, per_source=5, include_seen=True)
    assert all(set(case.per_source["repeat"]) == {"a", "b"} for case in open_)  # the history's items, no others
    assert all(case.target == "a" for case in open_)
