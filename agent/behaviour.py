"""The behaviour-log rankers the service scores candidates with: popularity, item-kNN, SASRec.

They are fitted once from every event in memory when the service starts (ML-100K: a few
seconds), then follow new events online: popularity and item-kNN counts grow with each
recorded event; SASRec reads the user's newest history at every request, so it needs no
refit to react to feedback. The SASRec weights are trained once and kept in the data
folder; a saved model whose vocabulary no longer matches the log is retrained.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from agent.cooccurrence import ItemKNN
from agent.sequences import UserSequences, build_user_sequences
from agent.sequential import SequentialConfig, SequentialModel, VocabularyMismatchError, train_sequential

log = logging.getLogger(__name__)
LogRow = tuple[str, str, float, float]  # user, item, time, weight

# What the served model trains with when none is saved: the ML-100K choice (~1 CPU-minute there).
SERVING_SEQUENTIAL_CONFIG = SequentialConfig(max_len=50, epochs=12)


class BehaviourModels:
    """Scores of every known item for a user's history, one array per source."""

    def __init__(self, sequences: UserSequences, sequential: SequentialModel | None):
        self.item_ids = sequences.item_ids
        self._index_of = {item: index for index, item in enumerate(self.item_ids)}
        self._popularity = sequences.item_counts().astype(np.float64)
        self._knn = ItemKNN(self.item_ids).fit(sequences) if len(sequences) else None
        self._sequential = sequential
        self._lock = threading.Lock()

    @classmethod
    def from_log(
        cls,
        rows: Iterable[LogRow],
        model_path: Path | None = None,
        train_if_missing: bool = True,
        config: SequentialConfig = SERVING_SEQUENTIAL_CONFIG,
        echo: Callable[[str], None] = log.info,
    ) -> BehaviourModels:
        """Fit on the event log; load SASRec from ``model_path`` or train and save it there."""
        users, items, times = [], [], []
        for user, item, timestamp, _ in rows:
            users.append(user)
            items.append(item)
            times.append(timestamp)
        sequences = build_user_sequences(users, items, times) if items else _empty_sequences()
        sequential = None
        if len(sequences) and model_path is not None:
            sequential = _load_or_train(sequences, model_path, train_if_missing, config, echo)
        return cls(sequences, sequential)

    @property
    def has_sequential(self) -> bool:
        return self._sequential is not None

    def observe(self, history: Sequence[str], item: str, timestamp: float) -> None:
        """Count one new event (``history`` = the user's items before it, oldest first)."""
        with self._lock:
            index = self._index_of.get(item)
            if index is not None:
                self._popularity[index] += 1
            if self._knn is not None:
                self._knn.add_event(history, item, timestamp)

    def scores(self, history: Sequence[str]) -> dict[str, np.ndarray]:
        """Per source, a score for every id in ``item_ids`` (higher is better)."""
        with self._lock:
            result = {"popularity": np.log1p(self._popularity)}
            if self._knn is not None and history:
                result["itemknn"] = self._knn.score(history)
        if self._sequential is not None and history:
            sequential = self._sequential.score(history)
            result["sequential"] = sequential if len(sequential) == len(self.item_ids) else self._align(sequential)
        return result

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


def _load_or_train(
    sequences: UserSequences, path: Path, train_if_missing: bool, config: SequentialConfig, echo: Callable[[str], None]
) -> SequentialModel | None:
    if path.exists():
        try:
            return SequentialModel.load(path, expected_item_ids=sequences.item_ids)
        except (VocabularyMismatchError, ValueError) as error:
            echo(f"sequential model at {path} does not fit this catalog ({error}); retraining")
    if not train_if_missing:
        return None
    echo(f"training the sequential model on {len(sequences)} users, {sequences.num_items} items (once)")
    model = train_sequential(sequences, config, progress=True)
    model.save(path)
    echo(f"sequential model saved to {path}")
    return model
