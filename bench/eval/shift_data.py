"""The two shift datasets as logs of (time, interest nodes) per user, with their cuts.

grocery: a seeded sample of Complete Journey households, the whole year; cuts one horizon
(30 days) apart back from the log's end; the latest cuts are the test, the one before them
validation (it picks the baselines' smoothing), every earlier one trains the forecast.
ml-1m: the protocol `bench eval shift` has used since the first release (users whose history
spans >= 30 days and leaves >= 20 ratings before the cut; the cut is before each user's last 10
ratings); the same users' cuts 2 to 6 horizons before their end are validation (2) and training.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from agent.forecast.cases import Cut, UserLog, day_cuts, event_cuts, monthly_cut_times, user_logs
from agent.forecast.horizon import DAY_S, Horizon
from agent.forecast.population import LevelIndex
from memory.history_view import item_nodes
from memory.taxonomy import full_paths, path_chain

GROCERY_LEVELS = {"department": 0, "category": 1, "type": 2}
GROCERY_TEST_CUTS = 4
ML_MIN_HISTORY, ML_MIN_SPAN_DAYS, ML_TRAIN_BACK = 20, 30, (2, 3, 4, 5, 6)


@dataclass
class ShiftDataset:
    name: str
    horizon: Horizon
    logs: dict[str, UserLog]
    levels: dict[str, LevelIndex]
    main_level: str
    train: list[Cut]
    validation: list[Cut]
    test: list[Cut]
    selection: dict = field(default_factory=dict)
    items: dict = field(default_factory=dict)  # item id -> Item (titles and paths: what a summary names)


def grocery(households: int, seed: int) -> ShiftDataset:
    from memory.grocery import load_grocery

    data = load_grocery(households=households, min_buyers=1, seed=seed)
    nodes_of = {item.id: item_nodes(path_chain(p) for p in full_paths(item)) for item in data.items}
    rows = data.purchases
    logs = user_logs(zip(rows["household"].tolist(), rows["product"].tolist(), rows["ts"].tolist(), strict=True),
                     nodes_of)
    horizon = Horizon(unit="days", size=30)
    times = monthly_cut_times(logs, horizon)
    test_times, validation_time = times[-GROCERY_TEST_CUTS:], times[-GROCERY_TEST_CUTS - 1]
    train_times = [t for t in times if t + horizon.size * DAY_S <= validation_time]
    every = sorted({node for nodes in nodes_of.values() for node in nodes})
    levels = {name: LevelIndex.of(every, depth) for name, depth in GROCERY_LEVELS.items()}
    test = day_cuts(logs, test_times, horizon)
    return ShiftDataset(
        "grocery", horizon, logs, levels, "category", day_cuts(logs, train_times, horizon),
        day_cuts(logs, [validation_time], horizon), test,
        {"households_drawn": households, "households_with_events": len(logs), "seed": seed,
         "cut_dates": {"train": _dates(train_times), "validation": _dates([validation_time]),
                       "test": _dates(test_times)},
         "rule": f"a household is kept at a cut when it has >= 5 purchase lines before it and >= 1 in the "
                 f"{horizon.size} days after; cuts are {horizon.size} days apart back from the log's end",
         "test_households": len({cut.user for cut in test}),
         "nodes": {name: len(level) for name, level in levels.items()}},
        {item.id: item for item in data.items},
    )


def movielens() -> ShiftDataset:
    from bench.eval.shift import item_topics
    from memory.movielens import load_movielens

    data = load_movielens("ml-1m")
    topics_of = [frozenset(item_topics(item)) for item in data.items]
    r = data.ratings
    nodes_of = {str(i): topics for i, topics in enumerate(topics_of)}
    logs = user_logs(((data.user_ids[u], str(i), float(t)) for u, i, t in zip(
        r.user.tolist(), r.item.tolist(), r.timestamp.tolist(), strict=True)), nodes_of)
    horizon = Horizon(unit="events", size=10)
    kept = {user: log for user, log in logs.items()
            if len(log.times) >= ML_MIN_HISTORY + horizon.size
            and log.times[-1] - log.times[0] >= ML_MIN_SPAN_DAYS * DAY_S}
    cuts = {back: event_cuts(kept, back, horizon, ML_MIN_HISTORY if back == 1 else 10) for back in (1, *ML_TRAIN_BACK)}
    train = [cut for back in ML_TRAIN_BACK[1:] for cut in cuts[back]]
    every = sorted({node for nodes in topics_of for node in nodes})
    return ShiftDataset(
        "ml-1m", horizon, logs, {"topic": LevelIndex.of(every, 0)}, "topic", train, cuts[ML_TRAIN_BACK[0]], cuts[1],
        {"users_seen": len(logs), "users_kept": len(kept),
         "rule": f"history spans >= {ML_MIN_SPAN_DAYS} days and >= {ML_MIN_HISTORY} ratings before the test cut; "
                 f"test cut = before the last {horizon.size} ratings; validation = the cut {horizon.size} ratings "
                 f"before that; training = cuts 3 to 6 horizons before the end (>= 10 ratings before each)",
         "cases": {"train": len(train), "validation": len(cuts[ML_TRAIN_BACK[0]]), "test": len(cuts[1])}},
        {str(i): item for i, item in enumerate(data.items)},
    )


def _dates(times: list[float]) -> list[str]:
    return [str(np.datetime64(int(t), "s").astype("datetime64[D]")) for t in times]
