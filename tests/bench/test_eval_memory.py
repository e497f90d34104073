"""The evaluation's interest memory holds training events only, until validation is recorded."""

from __future__ import annotations

import numpy as np

from agent.rankers.sequences import build_user_sequences, leave_one_out
from bench.eval.memory_source import SOURCES, EvalMemory
from bench.eval.protocols import PROTOCOLS, ProtocolData
from memory.movielens import MovieLens, Ratings
from tests.memory_support import BagOfWordsEmbedder, movie_catalog


def _data() -> ProtocolData:
    items = movie_catalog()[:40]
    rng = np.random.default_rng(0)
    users, codes, times = [], [], []
    for user in range(3):
        chosen = rng.choice(len(items), size=8, replace=False)
        users += [user] * 8
        codes += chosen.tolist()
        times += [1_700_000_000 + 3600 * step for step in range(8)]
    ratings = Ratings(np.array(users, np.int32), np.array(codes, np.int32), np.full(len(users), 4.0, np.float32),
                      np.array(times, np.int64))
    movielens = MovieLens("tiny", tuple(items), ("0", "1", "2"), ratings, "tiny")
    ids = [str(u) for u in users]
    sequences = build_user_sequences(ids, [items[c].id for c in codes], times)
    return ProtocolData(PROTOCOLS["p3"], movielens, sequences, leave_one_out(sequences))


def test_memory_sees_training_then_validation_never_test():
    data = _data()
    memory = EvalMemory(data, ["0", "1"], echo=lambda _: None, embedder=BagOfWordsEmbedder())
    try:
        memory.build()
        split, ids = data.split, data.sequences.item_ids
        row = split.test.users.index("0")
        train = {ids[i] for i in split.train.items[split.train.users.index("0")]}
        validation_item, test_item = ids[split.validation.targets[row]], ids[split.test.targets[row]]
        assert memory.memory.seen_items("0") == train
        assert memory.memory.seen_items("2") == set()  # not in the subsample
        memory.record_validation()
        assert memory.memory.seen_items("0") == train | {validation_item}
        assert test_item not in memory.memory.seen_items("0")
        scores = memory.source_scores("0")
        assert set(scores) <= set(SOURCES) and "memory_long" in scores
        assert all(len(v) == data.sequences.num_items for v in scores.values())
        assert np.all(scores["memory_long"] <= 1.0 + 1e-5)
    finally:
        memory.close()
