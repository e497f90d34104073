"""SASRec: learns a sequential pattern, is deterministic, saves with its vocabulary, and
beats popularity on real MovieLens-100K."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch

from agent.rankers.ranking_metrics import evaluate_full_ranking
from agent.rankers.sequences import build_user_sequences, leave_one_out, movielens_sequences
from agent.rankers.sequential import SequentialConfig, SequentialModel, VocabularyMismatchError
from agent.rankers.sequential_training import train_sequential
from memory.movielens import load_movielens

NUM_ITEMS = 24
ITEM_IDS = [f"m{n}" for n in range(NUM_ITEMS)]
FAST = SequentialConfig(
    max_len=10, hidden=32, blocks=1, dropout=0.0, learning_rate=1e-2, batch_size=32, epochs=10, seed=1, threads=1
)


def _successor_log(users: int = 120, length: int = 10, seed: int = 0):
    """Every user watches a run of consecutive items: m(k) is always followed by m(k+1)."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(users):
        start = int(rng.integers(NUM_ITEMS))
        rows += [(f"u{user}", ITEM_IDS[(start + step) % NUM_ITEMS], step) for step in range(length)]
    users_col, items_col, times_col = zip(*rows, strict=True)
    return build_user_sequences(users_col, items_col, times_col, item_ids=ITEM_IDS)


@pytest.fixture(scope="module")
def successor_model() -> SequentialModel:
    return train_sequential(_successor_log(), FAST, progress=False)


def test_learns_that_each_item_is_followed_by_the_next(successor_model: SequentialModel):
    correct, total = 0, 0
    for start in range(NUM_ITEMS):
        for length in (1, 3, 6):
            history = [ITEM_IDS[(start + step) % NUM_ITEMS] for step in range(length)]
            expected = ITEM_IDS[(start + length) % NUM_ITEMS]
            correct += successor_model.top_k(history, k=1)[0][0] == expected
            total += 1
    assert correct / total >= 0.9, f"top-1 right for only {correct}/{total} histories"


def test_states_depend_only_on_earlier_items_and_never_on_padding(successor_model: SequentialModel):
    network = successor_model.network
    sequence = torch.tensor([[0, 0, 3, 4, 5, 6]])
    changed_last = torch.tensor([[0, 0, 3, 4, 5, 9]])
    with torch.no_grad():
        states, changed = network(sequence), network(changed_last)
        wider = network(torch.tensor([[0, 0, 0, 0, 3, 4, 5, 6]]))
    torch.testing.assert_close(states[:, :-1], changed[:, :-1])
    assert not torch.allclose(states[:, -1], changed[:, -1])
    torch.testing.assert_close(wider[:, -4:], states[:, -4:])
    assert torch.isfinite(states).all(), "padding rows must not produce NaN"


def test_top_k_never_returns_history_or_excluded_items(successor_model: SequentialModel):
    history = ["m3", "m4", "m5"]
    top = [item for item, _ in successor_model.top_k(history, k=NUM_ITEMS, exclude=["m6"])]
    assert len(top) == NUM_ITEMS - 4
    assert not {"m3", "m4", "m5", "m6"} & set(top)
    unexcluded = [item for item, _ in successor_model.top_k(history, k=NUM_ITEMS)]
    assert unexcluded[0] == "m6" and [item for item in unexcluded if item != "m6"] == top
    scores = [score for _, score in successor_model.top_k(history, k=5)]
    assert scores == sorted(scores, reverse=True)


def test_unknown_history_ids_are_ignored_rather_than_failing(successor_model: SequentialModel):
    np.testing.assert_allclose(successor_model.score(["m3", "new-item", "m4"]), successor_model.score(["m3", "m4"]))


def test_same_seed_gives_identical_models_and_other_seeds_differ():
    log = _successor_log(users=40)
    config = FAST.model_copy(update={"epochs": 2, "threads": 2})
    torch.set_num_threads(1)
    first = train_sequential(log, config, progress=False).score(["m1", "m2"])
    assert torch.get_num_threads() == 1, "training restores the caller's thread count"
    again = train_sequential(log, config, progress=False).score(["m1", "m2"])
    other = train_sequential(log, config.model_copy(update={"seed": 2}), progress=False).score(["m1", "m2"])
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


def test_save_and_load_round_trip_gives_identical_scores(successor_model: SequentialModel, tmp_path: Path):
    path = successor_model.save(tmp_path / "models" / "seq.pt")
    loaded = SequentialModel.load(path, expected_item_ids=ITEM_IDS)
    assert loaded.item_ids == tuple(ITEM_IDS) and loaded.config == successor_model.config
    history = ["m8", "m9", "m10"]
    np.testing.assert_array_equal(loaded.score(history), successor_model.score(history))
    assert loaded.top_k(history, 3) == successor_model.top_k(history, 3)


def test_loading_against_another_vocabulary_fails_clearly(successor_model: SequentialModel, tmp_path: Path):
    path = successor_model.save(tmp_path / "seq.pt")
    with pytest.raises(VocabularyMismatchError, match=r"trained on 24 items but 25 are expected.*'m99'.*Retrain"):
        SequentialModel.load(path, expected_item_ids=[*ITEM_IDS, "m99"])
    with pytest.raises(VocabularyMismatchError, match="first differ at position 0"):
        SequentialModel.load(path, expected_item_ids=list(reversed(ITEM_IDS)))
    with pytest.raises(FileNotFoundError, match="train-sequential"):
        SequentialModel.load(tmp_path / "missing.pt")
    (tmp_path / "other.pt").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="other.pt is not a ShiftRec sequential model"):
        SequentialModel.load(tmp_path / "other.pt")


def test_bad_configuration_is_rejected_with_the_field_name():
    with pytest.raises(ValueError, match="extra"):
        SequentialConfig(hiddn=64)
    with pytest.raises(ValueError, match="divisible"):
        SequentialModel(ITEM_IDS, SequentialConfig(hidden=30, heads=4))
    with pytest.raises(ValueError, match="nothing to learn"):
        train_sequential(build_user_sequences(["u"], ["m1"], [0], item_ids=ITEM_IDS), FAST, progress=False)


def test_beats_popularity_on_movielens_100k_validation():
    """Real data, short training: SASRec must clearly beat the most-popular list."""
    split = leave_one_out(movielens_sequences(load_movielens("ml-100k")))
    popularity = split.train.item_counts().astype(np.float64)

    def popular(histories, times):
        return np.tile(popularity, (len(histories), 1))

    started = time.process_time()
    config = SequentialConfig(
        max_len=30, hidden=32, batch_size=64, learning_rate=5e-3, epochs=3, patience=3, seed=0, threads=1
    )
    reports = []
    model = train_sequential(split.train, config, progress=False, validation=split.validation, on_epoch=reports.append)
    cpu_seconds = time.process_time() - started
    sasrec = evaluate_full_ranking(model.score_indices, split.validation)["ndcg@10"]
    baseline = evaluate_full_ranking(popular, split.validation)["ndcg@10"]
    assert sasrec > 1.5 * baseline, f"SASRec NDCG@10 {sasrec:.4f} vs popularity {baseline:.4f}"
    best = max(reports, key=lambda report: report.validation["ndcg@10"])
    assert best.is_best and sasrec == pytest.approx(best.validation["ndcg@10"]), "the best epoch is the one kept"
    assert cpu_seconds < 45, f"training used {cpu_seconds:.0f} CPU seconds"


def test_cli_trains_and_saves_a_model_that_loads_with_the_catalog_vocabulary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from typer.testing import CliRunner

    from serving.cli import app

    monkeypatch.setenv("SHIFTREC_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["train-sequential", "--dataset", "ml-100k", "--epochs", "1", "--threads", "1"])
    assert result.exit_code == 0, result.output
    assert "epoch  1" in result.output and "validation ndcg@10" in result.output and "test ndcg@10" in result.output
    path = tmp_path / "models" / "sequential-ml-100k.pt"
    assert f"saved {path}" in result.output
    vocabulary = movielens_sequences(load_movielens("ml-100k")).item_ids
    model = SequentialModel.load(path, expected_item_ids=vocabulary)
    assert model.config.max_len == 50 and len(model.top_k(["1", "2"], k=5, exclude=["3"])) == 5
