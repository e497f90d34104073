"""The behaviour-log rankers the service scores candidates with: popularity, item-kNN, SASRec, repeat.

They are fitted once from every event in memory when the service starts (ML-100K: a few
seconds), then follow new events online: popularity and item-kNN counts grow with each
recorded event; SASRec reads the user's newest history at every request, so it needs no
refit to react to feedback. The service gets its SASRec from the trained versions
(agent/rankers/behaviour_training.py, agent/rankers/artifacts.py) and swaps in each new one
(agent/model_updates.py); ``from_log`` with a model path (one file, retrained when its
vocabulary no longer matches) serves the evaluation and the tests. SASRec trains without each
user's newest event: those held-out events pick its best epoch and let the service tune the
fusion weights on this catalog (agent/rankers/weight_tuning.py). The repeat
source (agent/rankers/repeat.py) scores what a user already has, from their own timed history
with each item's re-buy cycle fitted on the log; it only matters where seen items may return.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from agent.rankers.cooccurrence import ItemKNN
from agent.rankers.repeat import RepeatScorer
from agent.rankers.sequences import EvaluationCases, UserSequences, build_user_sequences, hold_out_last
from agent.rankers.sequential import SequentialConfig, SequentialModel, VocabularyMismatchError
from agent.rankers.sequential_training import train_sequential
from agent.rankers.weight_tuning import TuningCase, sample_rows

log = logging.getLogger(__name__)
LogRow = tuple[str, str, float, float]  # user, item, time, weight

# What the served model trains with when none is saved: the ML-100K choice (~1 CPU-minute there).
SERVING_SEQUENTIAL_CONFIG = SequentialConfig(max_len=50, epochs=12)


class BehaviourModels:
    """Scores of every known item for a user's history, one array per source."""

    def __init__(
        self, sequences: UserSequences, sequential: SequentialModel | None,
        held_out: tuple[UserSequences, EvaluationCases] | None = None,
    ):
        self.item_ids = sequences.item_ids
        self._index_of = {item: index for index, item in enumerate(self.item_ids)}
        self._popularity = sequences.item_counts().astype(np.float64)
        self._knn = ItemKNN(self.item_ids).fit(sequences) if len(sequences) else None
        self._repeat = RepeatScorer(self.item_ids).fit(sequences)
        self._sequential = sequential
        # a version trained before items were added (or users deleted) ranks another vocabulary: align it
        self._same_vocabulary = sequential is not None and tuple(sequential.item_ids) == tuple(self.item_ids)
        self._lock = threading.Lock()
        self._held_out = held_out  # (training log, held-out newest events): what tuning_cases scores

    @classmethod
    def from_log(
        cls,
        rows: Iterable[LogRow],
        model_path: Path | None = None,
        train_if_missing: bool = True,
        config: SequentialConfig = SERVING_SEQUENTIAL_CONFIG,
        echo: Callable[[str], None] = log.info,
    ) -> BehaviourModels:
        """Fit on the event log; load SASRec from ``model_path`` or train and save it there
        (on the log without each user's newest event, which stays held out)."""
        users, items, times = [], [], []
        for user, item, timestamp, _ in rows:
            users.append(user)
            items.append(item)
            times.append(timestamp)
        sequences = build_user_sequences(users, items, times) if items else _empty_sequences()
        train, held_out = hold_out_last(sequences)
        sequential = None
        if len(sequences) and model_path is not None:
            sequential = _load_or_train(train, held_out, model_path, train_if_missing, config, echo)
        return cls(sequences, sequential, (train, held_out))

    @property
    def has_sequential(self) -> bool:
        return self._sequential is not None

    def tuning_cases(self, limit: int, per_source: int, seed: int = 0, include_seen: bool = False) -> list[TuningCase]:
        """Up to ``limit`` users' held-out newest events, each with what every source proposes from
        the history before it (popularity, item-kNN and repeat cycles refitted without the held-out
        events). ``include_seen``: the user's own items may be proposed (and the repeat source joins)."""
        if self._held_out is None:
            return []
        train, cases = self._held_out
        view = BehaviourModels(train, self._sequential)
        result = []
        for row in sample_rows(len(cases), limit, seed):
            history = [self.item_ids[index] for index in cases.histories[row]]
            excluded = set() if include_seen else set(history)
            scores = view.scores(history)
            if include_seen:
                scores["repeat"] = view.repeat_scores(history, cases.history_times[row].tolist())
            proposals = {
                source: top_items(self.item_ids, values, per_source, excluded) for source, values in scores.items()
            }
            result.append(TuningCase(proposals, self.item_ids[int(cases.targets[row])]))
        return result

    def observe(self, history: Sequence[str], item: str, timestamp: float) -> None:
        """Count one new event (``history`` = the user's items before it, oldest first)."""
        with self._lock:
            index = self._index_of.get(item)
            if index is not None:
                self._popularity[index] += 1
            if self._knn is not None:
                self._knn.add_event(history, item, timestamp)

    def follows(self, earlier: str, later: str) -> float:
        """Item-kNN similarity: how strongly ``later`` follows ``earlier`` in the log (0 when either is unknown)."""
        i, j = self._index_of.get(earlier), self._index_of.get(later)
        if self._knn is None or i is None or j is None:
            return 0.0
        with self._lock:
            return float(self._knn.similarity()[i, j])

    def scores(self, history: Sequence[str]) -> dict[str, np.ndarray]:
        """Per source, a score for every id in ``item_ids`` (higher is better)."""
        with self._lock:
            result = {"popularity": np.log1p(self._popularity)}
            if self._knn is not None and history:
                result["itemknn"] = self._knn.score(history)
        if self._sequential is not None and history:
            sequential = self._sequential.score(history)
            result["sequential"] = sequential if self._same_vocabulary else self._align(sequential)
        return result

    def repeat_scores(self, history: Sequence[str], times: Sequence[float], now: float | None = None) -> np.ndarray:
        """Repeat scores over ``item_ids`` for the user's timed history (all of it, oldest first): -inf for
        items never had; ``now`` defaults to the newest event's time."""
        return self._repeat.score(history, times, now)

    def _align(self, scores: np.ndarray) -> np.ndarray:
        """Sequential scores in this vocabulary's order (items it never saw get its floor)."""
        aligned = np.full(len(self.item_ids), float(scores.min()))
        for position, item in enumerate(self._sequential.item_ids):
            index = self._index_of.get(item)
            if index is not None:
                aligned[index] = scores[position]
        return aligned


def _empty_sequences() -> UserSequences:
    return UserSequences(item_ids=(), users=(), items=(), times=())


def top_items(item_ids: Sequence[str], scores: np.ndarray, k: int, excluded: set[str]) -> dict[str, float]:
    """The k best-scored ids not excluded (ties by position, so the order is stable)."""
    order = np.argsort(-scores, kind="stable")
    chosen: dict[str, float] = {}
    for index in order:
        item = item_ids[index]
        if item in excluded or not np.isfinite(scores[index]):
            continue
        chosen[item] = float(scores[index])
        if len(chosen) == k:
            break
    return chosen


def _load_or_train(
    sequences: UserSequences, held_out: EvaluationCases, path: Path, train_if_missing: bool,
    config: SequentialConfig, echo: Callable[[str], None],
) -> SequentialModel | None:
    if path.exists():
        try:
            return SequentialModel.load(path, expected_item_ids=sequences.item_ids)
        except (VocabularyMismatchError, ValueError) as error:
            echo(f"sequential model at {path} does not fit this catalog ({error}); retraining")
    if not train_if_missing:
        return None
    echo(f"training the sequential model on {len(sequences)} users, {sequences.num_items} items (once)")
    model = train_sequential(sequences, config, progress=True, validation=held_out if len(held_out) else None)
    model.save(path)
    echo(f"sequential model saved to {path}")
    return model
