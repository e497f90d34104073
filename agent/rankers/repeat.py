"""Repeat consumption: what a household buys again, scored from its own purchase history.

In groceries the strongest single signal for the next basket is the household's own past
(measured on Complete Journey: its 10 most bought items hit the next basket far more often
than the 10 most popular). Each item the user bought scores

    frequency * (1 + cycle_weight * due)

- ``frequency``: the user's purchases of the item, each halved per ``half_life_days`` before
  now (last month's weekly milk counts more than last spring's);
- ``due``: 1 when the time since the last purchase equals the item's repeat cycle, falling
  off on a log scale (``cycle_width``) either side: milk bought yesterday is less likely today.
  The cycle is the user's own median gap between purchases, shrunk towards the item's median
  gap over all users (``prior_gaps`` pseudo-gaps), so an item bought once still has one.

Items the user never bought score -inf: this source only proposes what may come back.
Everything is deterministic (no sampling); ties keep vocabulary order where callers sort stably.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from agent.rankers.sequences import UserSequences

SECONDS_PER_DAY = 86400.0


class RepeatConfig(BaseModel):
    """Knobs of the repeat score; defaults chosen on the P4 grocery validation baskets (bench/eval/p4.py)."""

    model_config = ConfigDict(extra="forbid")

    half_life_days: float | None = Field(
        default=120.0, gt=0, description="Halve a purchase's weight per this many days before now; None: plain counts."
    )
    cycle_weight: float = Field(default=0.5, ge=0, description="How much being due for a re-buy multiplies the score.")
    cycle_width: float = Field(
        default=2.0, gt=0, description="Width, in natural-log units of elapsed/cycle, of the due bump."
    )
    prior_gaps: float = Field(
        default=2.0, ge=0, description="Pseudo-gaps of the item's population cycle mixed into the user's own."
    )


class RepeatScorer:
    """Per-item population repeat cycles (fitted once) and each user's repeat score over the vocabulary."""

    def __init__(self, item_ids: Sequence[Hashable], config: RepeatConfig | None = None) -> None:
        self.config = config or RepeatConfig()
        self.item_ids = tuple(item_ids)
        self._index_of = {item: index for index, item in enumerate(self.item_ids)}
        self._cycle_days = np.full(len(self.item_ids), 7.0)  # a week until fitted

    @property
    def cycle_days(self) -> np.ndarray:
        """Each item's median gap between two purchases by the same user, in days."""
        return self._cycle_days

    def fit(self, sequences: UserSequences) -> RepeatScorer:
        """Median re-buy gap per item over all users; items nobody re-bought get the median over all gaps."""
        if tuple(sequences.item_ids) != self.item_ids:
            raise ValueError("the sequences use a different item vocabulary than this RepeatScorer")
        gap_items, gaps = [], []
        for items, times in zip(sequences.items, sequences.times, strict=True):
            item_gaps = _own_gaps(items, times)
            gap_items.append(item_gaps[0])
            gaps.append(item_gaps[1])
        items = np.concatenate(gap_items) if gap_items else np.zeros(0, dtype=np.int64)
        days = np.concatenate(gaps) / SECONDS_PER_DAY if gaps else np.zeros(0)
        overall = float(np.median(days)) if len(days) else 7.0
        has_gaps = np.bincount(items, minlength=len(self.item_ids)) > 0
        cycle = np.where(has_gaps, _median_per_item(items, days, len(self.item_ids)), overall)
        self._cycle_days = cycle
        return self

    def score_indices(self, items: np.ndarray, times: np.ndarray, now: float | None = None) -> np.ndarray:
        """Scores over the vocabulary for one user's history (indices and epoch seconds); -inf = never bought.
        ``now`` defaults to the newest purchase (a replayed log's clock)."""
        scores = np.full(len(self.item_ids), -np.inf)
        items, times = np.asarray(items, dtype=np.int64), np.asarray(times, dtype=np.float64)
        if not len(items):
            return scores
        config = self.config
        now = float(times.max()) if now is None else float(now)
        pairs = np.unique(np.stack([items, times]), axis=1)  # one purchase per (item, time)
        bought, when = pairs[0].astype(np.int64), pairs[1]
        age = np.maximum(now - when, 0.0) / SECONDS_PER_DAY
        weight = np.ones_like(age) if config.half_life_days is None else np.exp2(-age / config.half_life_days)
        frequency = np.bincount(bought, weights=weight, minlength=len(self.item_ids))
        last = np.full(len(self.item_ids), -np.inf)
        np.maximum.at(last, bought, when)
        gap_items, gap_seconds = _own_gaps(bought, when)
        gap_count = np.bincount(gap_items, minlength=len(self.item_ids)).astype(np.float64)
        own = _median_per_item(gap_items, gap_seconds / SECONDS_PER_DAY, len(self.item_ids))
        mixed = gap_count + config.prior_gaps  # 0 only for an item with no own gap and no prior: the population's
        cycle = np.divide(gap_count * own + config.prior_gaps * self._cycle_days, mixed,
                          out=self._cycle_days.copy(), where=mixed > 0)
        held = np.unique(bought)
        elapsed = np.maximum(now - last[held], 0.0) / SECONDS_PER_DAY
        due = np.exp(-0.5 * (np.log((elapsed + 1.0) / (cycle[held] + 1.0)) / config.cycle_width) ** 2)
        scores[held] = frequency[held] * (1.0 + config.cycle_weight * due)
        return scores

    def score(self, history: Sequence[Hashable], times: Sequence[float], now: float | None = None) -> np.ndarray:
        """:meth:`score_indices` for ids (unknown ids are ignored: the catalog may hold items the log lacks)."""
        if len(history) != len(times):
            raise ValueError(f"history has {len(history)} items but {len(times)} times")
        known = [(self._index_of[item], t) for item, t in zip(history, times, strict=True) if item in self._index_of]
        items = np.array([i for i, _ in known], dtype=np.int64)
        return self.score_indices(items, np.array([t for _, t in known], dtype=np.float64), now)


def _own_gaps(items: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(item, seconds) for every gap between two consecutive distinct purchase times of one item."""
    if len(items) < 2:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    order = np.lexsort((times, items))
    items, times = np.asarray(items)[order], np.asarray(times, dtype=np.float64)[order]
    same = (items[1:] == items[:-1]) & (times[1:] > times[:-1])
    return items[1:][same].astype(np.int64), (times[1:] - times[:-1])[same]


def _median_per_item(items: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Median of ``values`` per item index (0 where an item has none: its count is 0 then)."""
    medians = np.zeros(size)
    if not len(items):
        return medians
    order = np.lexsort((values, items))
    items, values = items[order], values[order]
    starts = np.flatnonzero(np.r_[True, items[1:] != items[:-1]])
    for start, end in zip(starts, np.r_[starts[1:], len(items)], strict=True):
        medians[items[start]] = float(np.median(values[start:end]))
    return medians
