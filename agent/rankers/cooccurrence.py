"""Recency-weighted item-to-item co-occurrence (item-kNN), one of ShiftRec's two strong rankers.

Two items are related when people consume them close together. Each pair of items at
most ``window`` positions apart in a user's sequence counts with a weight that falls with
their distance (``position_decay``), that favours the order they came in
(``backward_weight`` < 1 for "j came before i"), and that favours recent behaviour
(``half_life_days``: last year's co-watching says more about tomorrow than 2001's). The
counts are cosine-normalised by item frequency so that blockbusters do not neighbour
everything. A user's history scores every item by summing the rows of its items, the
newest history items weighing most (``history_decay``): interests drift, and the last few
items say most about the next one.

Recency weights are anchored at a fixed time rather than "now", so a new event can be
added incrementally (:meth:`ItemKNN.add_event`) without re-weighting older counts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence

import numpy as np
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field

from agent.rankers.sequences import UserSequences

SECONDS_PER_DAY = 86400.0


class CooccurrenceConfig(BaseModel):
    """Knobs of the item-kNN ranker; defaults measured on MovieLens-100K validation."""

    model_config = ConfigDict(extra="forbid")

    window: int = Field(default=20, ge=1, description="Pairs at most this many positions apart count.")
    position_decay: float = Field(default=0.8, gt=0, le=1, description="Pair weight factor per extra position apart.")
    backward_weight: float = Field(default=0.5, ge=0, le=1, description="Weight of j->i when j came before i.")
    half_life_days: float | None = Field(
        default=None,
        gt=0,
        description="Halve a pair's weight per this many days before the newest event; None: off "
        "(MovieLens validation did not gain from it: its ratings are entry times, not viewing times).",
    )
    history_decay: float = Field(default=0.8, gt=0, le=1, description="Weight factor per step back in the history.")
    max_history: int = Field(default=50, ge=1, description="Only the newest items of a history are used to score.")
    alpha: float = Field(
        default=0.7, ge=0, le=1, description="Asymmetric cosine: 0.5 is plain cosine; higher discounts popular targets more."
    )


class ItemKNN:
    """Item-to-item co-occurrence scores over a fixed item vocabulary."""

    def __init__(self, item_ids: Sequence[Hashable], config: CooccurrenceConfig | None = None) -> None:
        self.config = config or CooccurrenceConfig()
        self.item_ids = tuple(item_ids)
        self._index_of = {item_id: index for index, item_id in enumerate(self.item_ids)}
        n = len(self.item_ids)
        self._pairs = sp.csr_matrix((n, n), dtype=np.float64)
        self._frequency = np.zeros(n, dtype=np.float64)
        self._pending: dict[tuple[int, int], float] = defaultdict(float)
        self._similarity: sp.csr_matrix | None = None
        self._anchor_time: float | None = None

    @property
    def num_items(self) -> int:
        return len(self.item_ids)

    def _recency(self, times: np.ndarray) -> np.ndarray:
        """2^((t - anchor) / half-life): 1 at the anchor, halved per half-life before it."""
        if self.config.half_life_days is None or self._anchor_time is None:
            return np.ones_like(times, dtype=np.float64)
        half_life_s = self.config.half_life_days * SECONDS_PER_DAY
        return np.exp2((np.asarray(times, dtype=np.float64) - self._anchor_time) / half_life_s)

    def fit(self, sequences: UserSequences) -> ItemKNN:
        """Count every pair within the window over all users (replaces earlier counts)."""
        if tuple(sequences.item_ids) != self.item_ids:
            raise ValueError(
                "the sequences use a different item vocabulary than this ItemKNN; build them with its item_ids"
            )
        config, n = self.config, self.num_items
        nonempty = [index for index, items in enumerate(sequences.items) if len(items)]
        if not nonempty:
            raise ValueError("no events to fit on")
        items = np.concatenate([sequences.items[i] for i in nonempty])
        times = np.concatenate([sequences.times[i] for i in nonempty])
        owner = np.concatenate([np.full(len(sequences.items[i]), i) for i in nonempty])
        self._anchor_time = float(times.max())
        recency = self._recency(times)
        self._frequency = np.bincount(items, weights=recency, minlength=n).astype(np.float64)
        pairs = sp.csr_matrix((n, n), dtype=np.float64)
        for distance in range(1, config.window + 1):
            same_user = owner[:-distance] == owner[distance:]
            if not same_user.any():
                break
            earlier, later = items[:-distance][same_user], items[distance:][same_user]
            weight = recency[distance:][same_user] * config.position_decay ** (distance - 1)
            rows = np.concatenate([earlier, later])
            cols = np.concatenate([later, earlier])
            values = np.concatenate([weight, weight * config.backward_weight])
            pairs = pairs + sp.csr_matrix((values, (rows, cols)), shape=(n, n))
        pairs.setdiag(0)
        pairs.eliminate_zeros()
        self._pairs = pairs
        self._pending.clear()
        self._similarity = None
        return self

    def add_event(self, history: Sequence[Hashable], new_item: Hashable, timestamp: float | None = None) -> None:
        """Count one new event against the user's preceding items (ids, oldest first).

        Unknown ids are ignored: the catalog may hold items this ranker has not seen.
        """
        if new_item not in self._index_of:
            return
        config, new_index = self.config, self._index_of[new_item]
        recency = float(self._recency(np.array([timestamp if timestamp is not None else self._anchor_time or 0.0]))[0])
        self._frequency[new_index] += recency
        previous = [self._index_of[item] for item in history if item in self._index_of][-config.window :]
        for distance, earlier in enumerate(reversed(previous), start=1):
            if earlier == new_index:
                continue
            weight = recency * config.position_decay ** (distance - 1)
            self._pending[(earlier, new_index)] += weight
            self._pending[(new_index, earlier)] += weight * config.backward_weight
        self._similarity = None

    def similarity(self) -> sp.csr_matrix:
        """Row i: how strongly each item follows item i, cosine-normalised (cached)."""
        if self._pending:
            (rows, cols), values = zip(*self._pending.keys()), list(self._pending.values())
            self._pairs = self._pairs + sp.csr_matrix((values, (rows, cols)), shape=self._pairs.shape)
            self._pending.clear()
        if self._similarity is None:
            alpha = self.config.alpha
            safe = np.where(self._frequency > 0, self._frequency, 1.0)
            left = sp.diags(safe**-alpha)
            right = sp.diags(safe ** -(1.0 - alpha))
            self._similarity = (left @ self._pairs @ right).tocsr()
        return self._similarity

    def _history_matrix(self, histories: Sequence[np.ndarray]) -> sp.csr_matrix:
        """One row per history: each item weighted by how recent it is within the history."""
        config = self.config
        rows, cols, values = [], [], []
        for row, history in enumerate(histories):
            recent = np.asarray(history, dtype=np.int64)[-config.max_history :]
            steps_back = np.arange(len(recent) - 1, -1, -1)
            rows.append(np.full(len(recent), row))
            cols.append(recent)
            values.append(config.history_decay**steps_back)
        if not histories:
            return sp.csr_matrix((0, self.num_items))
        entries = (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols)))
        return sp.csr_matrix(entries, shape=(len(histories), self.num_items))

    def score_indices(
        self, histories: Sequence[np.ndarray], history_times: Sequence[np.ndarray] | None = None
    ) -> np.ndarray:
        """(users, items) scores for histories given as vocabulary indices, oldest first.

        ``history_times`` is accepted so that every ranker has the same evaluation signature;
        the order of the history already carries the recency this ranker uses.
        """
        del history_times
        return np.asarray((self._history_matrix(histories) @ self.similarity()).todense())

    def score(self, history: Sequence[Hashable]) -> np.ndarray:
        """Scores over all items (``item_ids`` order) for one history of item ids, oldest first.
        History items keep their scores here; :meth:`top_k` excludes them."""
        indices = np.array([self._index_of[item] for item in history if item in self._index_of], dtype=np.int64)
        return self.score_indices([indices])[0]

    def top_k(
        self, history: Sequence[Hashable], k: int, exclude: Sequence[Hashable] = ()
    ) -> list[tuple[Hashable, float]]:
        """The k best (item id, score) pairs, never an item from the history or ``exclude``."""
        scores = self.score(history)
        hidden = [self._index_of[item] for item in (*history, *exclude) if item in self._index_of]
        scores[hidden] = -np.inf
        order = np.argsort(-scores, kind="stable")[:k]
        return [(self.item_ids[index], float(scores[index])) for index in order if np.isfinite(scores[index])]
