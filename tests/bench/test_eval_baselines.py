"""The eval's SASRec is trained with the product's MovieLens configuration and cached with its cost."""

from __future__ import annotations

import numpy as np

from agent.rankers.sequences import build_user_sequences, leave_one_out
from agent.rankers.sequential import SequentialConfig
from bench.eval import baselines


def _split():
    rng = np.random.default_rng(3)
    users, items, times = [], [], []
    for user in range(8):
        chosen = rng.choice(30, size=10, replace=False)
        users += [f"u{user}"] * len(chosen)
        items += chosen.tolist()
        times += list(range(len(chosen)))
    return leave_one_out(build_user_sequences(users, items, times))


def test_sequential_model_uses_the_dataset_config_and_reuses_the_cache(tmp_path, monkeypatch):
    tiny = SequentialConfig(max_len=6, hidden=8, blocks=1, epochs=2, threads=1)
    monkeypatch.setitem(baselines.MOVIELENS_CONFIGS, "tiny", tiny)
    split = _split()
    model, meta = baselines.sequential_model("px", "tiny", split, tmp_path, echo=lambda _: None)
    assert meta["cached"] is False
    assert meta["config"]["epochs"] == 2 and meta["torch_threads"] == 1
    assert [epoch["epoch"] for epoch in meta["epochs"]] == [1, 2]
    assert meta["best_epoch"] == max(epoch["epoch"] for epoch in meta["epochs"] if epoch["best_so_far"])
    again, meta_again = baselines.sequential_model("px", "tiny", split, tmp_path, echo=lambda _: None)
    assert meta_again["cached"] is True and meta_again["trained_at"] == meta["trained_at"]
    history = split.test.histories[:1]
    np.testing.assert_allclose(again.score_indices(history), model.score_indices(history), rtol=1e-6)
    # another configuration is another model, never the cached one
    monkeypatch.setitem(baselines.MOVIELENS_CONFIGS, "tiny", tiny.model_copy(update={"epochs": 1}))
    _, meta_other = baselines.sequential_model("px", "tiny", split, tmp_path, echo=lambda _: None)
    assert meta_other["cached"] is False and len(meta_other["epochs"]) == 1
