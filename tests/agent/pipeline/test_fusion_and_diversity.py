"""Score fusion and diversification: orders, ties, floors, caps."""

from __future__ import annotations

import numpy as np
import pytest

from agent.pipeline.diversity import intra_list_diversity, mmr
from agent.pipeline.fusion import fuse, zscores
from agent.pipeline.shortlist import RankedCandidate, diversify
from agent.settings import AgentSettings
from memory.catalog import CatalogEntry


def test_zscores_standardise_and_constant_sources_are_silent():
    standardised = zscores({"a": 1.0, "b": 2.0, "c": 3.0})
    assert standardised["a"] == pytest.approx(-1.2247, abs=1e-4) and standardised["b"] == pytest.approx(0.0)
    assert zscores({"a": 5.0, "b": 5.0}) == {"a": 0.0, "b": 0.0}


def test_fusion_weights_decide_between_disagreeing_sources():
    per_source = {"sequential": {"a": 3.0, "b": 2.0, "c": 1.0}, "knn": {"a": 0.1, "b": 0.2, "c": 0.9}}
    assert [i for i, _ in fuse(per_source, {"sequential": 1.0, "knn": 0.2})][0] == "a"
    assert [i for i, _ in fuse(per_source, {"sequential": 0.2, "knn": 1.0})][0] == "c"


def test_unscored_candidate_gets_the_source_floor_not_the_mean():
    per_source = {"sequential": {"a": 1.0, "b": 3.0}, "popularity": {"a": 1.0, "b": 1.0, "c": 2.0}}
    order = fuse(per_source, {"sequential": 1.0, "popularity": 0.1})
    assert [item for item, _ in order] == ["b", "c", "a"]
    scores = dict(order)
    assert scores["c"] == pytest.approx(-1.0 + 0.1 * 1.41421, abs=1e-4), "floor of sequential plus popularity"


def test_zero_weight_source_changes_nothing_and_ties_break_by_id():
    order = fuse({"llm": {"b": 9.0, "a": 0.0}, "knn": {"a": 1.0, "b": 1.0}}, {"llm": 0.0, "knn": 1.0})
    assert [item for item, _ in order] == ["a", "b"]


VECTORS = {
    "space1": np.array([1.0, 0.0, 0.0]),
    "space2": np.array([0.99, 0.1, 0.0]),
    "comedy": np.array([0.0, 1.0, 0.0]),
    "drama": np.array([0.0, 0.0, 1.0]),
}
RANKED = [("space1", 1.0), ("space2", 0.95), ("comedy", 0.6), ("drama", 0.5)]


def test_mmr_with_lambda_one_keeps_relevance_order():
    assert mmr(RANKED, VECTORS, 3, lambda_=1.0) == ["space1", "space2", "comedy"]


def test_mmr_pushes_near_duplicates_down():
    picked = mmr(RANKED, VECTORS, 3, lambda_=0.5)
    assert picked[0] == "space1" and "space2" not in picked[:2]


def test_group_cap_limits_one_interest():
    groups = {"space1": "t:sci-fi", "space2": "t:sci-fi", "comedy": "t:comedy", "drama": "t:drama"}
    assert mmr(RANKED, VECTORS, 4, lambda_=1.0, group_of=groups, max_per_group=1) == ["space1", "comedy", "drama"]


def test_intra_list_diversity_orders_lists():
    similar = intra_list_diversity(["space1", "space2"], VECTORS)
    varied = intra_list_diversity(["space1", "comedy", "drama"], VECTORS)
    assert 0 <= similar < 0.05 and varied == pytest.approx(1.0)


@pytest.mark.parametrize(("length", "most_of_one_topic"), [(5, 3), (10, 6)])
def test_default_topic_cap_rounds_up_per_list_length(length: int, most_of_one_topic: int):
    rng = np.random.default_rng(0)
    topic_of = {f"drama{i}": "t:drama" for i in range(12)} | {f"other{i}": f"t:other{i}" for i in range(8)}
    # every drama outscores every other item, so only the cap lets the others in
    pool = [RankedCandidate(item, 10.0 - i if item.startswith("drama") else -float(i), {}, None)
            for i, item in enumerate(topic_of)]
    entries = {item: CatalogEntry(item, item, rng.normal(size=8), ((topic, topic + "/x"),))
               for item, topic in topic_of.items()}
    listed = diversify(pool, {i: e.vector for i, e in entries.items()}, entries, AgentSettings(), length)
    topics = [topic_of[c.item_id] for c in listed]
    assert len(listed) == length and topics.count("t:drama") == most_of_one_topic
    assert listed[0].item_id == "drama0"  # the cap spreads the list, it does not demote the best item


def test_a_list_never_shows_two_items_with_the_same_title():
    rng = np.random.default_rng(1)
    titles = {"milk-a": "Whole Milk 1 gal", "milk-b": "whole  milk 1 GAL", "milk-c": "Whole Milk 1 gal",
              "eggs": "Eggs 12 ct", "bread": "Bread 20 oz"}
    pool = [RankedCandidate(item, 5.0 - rank, {}, None) for rank, item in enumerate(titles)]
    entries = {item: CatalogEntry(item, title, rng.normal(size=8), (("t:dairy", "t:dairy/x"),))
               for item, title in titles.items()}
    settings = AgentSettings(max_topic_share=None, mmr_lambda=1.0)
    listed = diversify(pool, {i: e.vector for i, e in entries.items()}, entries, settings, 5)
    assert [c.item_id for c in listed] == ["milk-a", "eggs", "bread"]
