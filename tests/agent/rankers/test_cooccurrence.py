"""Item-kNN on tiny hand-made logs: what co-occurs ranks first, and recency changes the order."""

from __future__ import annotations

import numpy as np
import pytest

from agent.rankers.cooccurrence import CooccurrenceConfig, ItemKNN
from agent.rankers.sequences import build_user_sequences

DAY = 86400.0


def _log(sessions: list[tuple[list[str], float]], item_ids: list[str]):
    """One user per session: its items one second apart, starting at the given day."""
    users, items, times = [], [], []
    for user, (session, day) in enumerate(sessions):
        for offset, item in enumerate(session):
            users.append(f"u{user}")
            items.append(item)
            times.append(day * DAY + offset)
    return build_user_sequences(users, items, times, item_ids=item_ids)


def _ranked(model: ItemKNN, history: list[str]) -> list[str]:
    return [item for item, _ in model.top_k(history, k=10)]


def test_the_item_that_follows_most_often_ranks_first_and_history_is_excluded():
    log = _log([(["a", "b"], 0)] * 3 + [(["a", "c"], 0), (["d", "e"], 0), (["d", "e", "c"], 0)], list("abcde"))
    model = ItemKNN(log.item_ids).fit(log)
    assert _ranked(model, ["a"])[0] == "b"
    assert _ranked(model, ["a"])[:2] == ["b", "c"]
    ranked = _ranked(model, ["d", "e"])
    assert ranked[0] == "c" and "d" not in ranked and "e" not in ranked
    assert _ranked(model, ["d"])[0] == "e"
    assert [item for item, _ in model.top_k(["a"], 5, exclude=["b"])][0] == "c"
    scores = model.score(["a"])
    assert scores.shape == (5,) and scores[log.item_ids.index("d")] == 0.0


def test_newer_history_items_weigh_more_and_change_the_order():
    # a -> x is the stronger pair (cosine 1.0), c -> y the weaker one (c also precedes z)
    log = _log(
        [(["a", "x"], 0)] * 3 + [(["c", "y"], 0)] * 2 + [(["c", "z"], 0)],
        ["a", "c", "x", "y", "z"],
    )
    flat = ItemKNN(log.item_ids, CooccurrenceConfig(history_decay=1.0)).fit(log)
    recent_first = ItemKNN(log.item_ids, CooccurrenceConfig(history_decay=0.5)).fit(log)
    assert _ranked(flat, ["a", "c"])[0] == "x"
    assert _ranked(recent_first, ["a", "c"])[0] == "y", "c is the newest item, so its neighbour wins"
    assert _ranked(recent_first, ["c", "a"])[0] == "x"


def test_recent_co_occurrences_outweigh_old_ones_with_a_half_life():
    # long ago three people watched a then x; lately two watched a then y
    log = _log([(["a", "x"], 0)] * 3 + [(["a", "y"], 100)] * 2, ["a", "x", "y"])
    timeless = ItemKNN(log.item_ids, CooccurrenceConfig(half_life_days=None)).fit(log)
    recent = ItemKNN(log.item_ids, CooccurrenceConfig(half_life_days=10)).fit(log)
    assert _ranked(timeless, ["a"]) == ["x", "y"]
    assert _ranked(recent, ["a"]) == ["y", "x"]


def test_items_close_together_count_more_than_items_far_apart():
    log = _log([(["a", "b", "f1", "f2", "c"], 0)] * 2, ["a", "b", "c", "f1", "f2"])
    model = ItemKNN(log.item_ids, CooccurrenceConfig(window=5, position_decay=0.5)).fit(log)
    scores = dict(zip(log.item_ids, model.score(["a"]), strict=True))
    assert scores["b"] > scores["f1"] > scores["f2"] > scores["c"] > 0
    narrow = ItemKNN(log.item_ids, CooccurrenceConfig(window=1)).fit(log)
    assert dict(zip(log.item_ids, narrow.score(["a"]), strict=True))["f1"] == 0.0


@pytest.mark.parametrize("half_life_days", [None, 30.0])
def test_adding_events_one_by_one_equals_fitting_on_everything(half_life_days):
    rng = np.random.default_rng(7)
    item_ids = [f"i{n}" for n in range(12)]
    sessions = [([item_ids[i] for i in rng.choice(12, size=6, replace=False)], float(day)) for day in range(8)]
    full = _log(sessions, item_ids)
    config = CooccurrenceConfig(window=3, half_life_days=half_life_days)
    expected = ItemKNN(item_ids, config).fit(full).similarity().toarray()

    model = ItemKNN(item_ids, config).fit(_log([(items[:3], day) for items, day in sessions], item_ids))
    for items, day in sessions:
        for position in range(3, len(items)):
            model.add_event(items[:position], items[position], timestamp=day * DAY + position)
    model.add_event(["i0"], "not-in-catalog", timestamp=0.0)
    np.testing.assert_allclose(model.similarity().toarray(), expected, rtol=1e-9, atol=1e-12)


def test_fitting_sequences_from_another_vocabulary_is_refused():
    log = _log([(["a", "b"], 0)], ["a", "b"])
    with pytest.raises(ValueError, match="different item vocabulary"):
        ItemKNN(["a", "b", "c"]).fit(log)
    with pytest.raises(ValueError, match="window"):
        CooccurrenceConfig(window=0)
    with pytest.raises(ValueError, match="extra"):
        CooccurrenceConfig(windw=3)
