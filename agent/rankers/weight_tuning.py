"""Choose the behaviour sources' fusion weights on the product's own log.

How much item-kNN should count beside SASRec depends on the catalog: measured on
MovieLens validation splits, item-kNN wants 2.0 on ML-100K but 0.25–0.5 on ML-1M, and a
fixed default cost ML-1M more than it gained on ML-100K. So at start-up every sampled
user's newest event is held out (the served SASRec is trained without it), each source
proposes candidates from the rest of that user's history, and the grid point with the
best NDCG@10 on those held-out events wins. The memory sources are not tuned: their
inputs cannot be rebuilt without the held-out event, so they keep the configured weights.
A tuned source no case proposes anything for (repeat, where seen items may not return) stays
off the grid, so it neither changes the choice nor multiplies the grid.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from agent.pipeline.fusion import fuse

TUNED_SOURCES = ("sequential", "itemknn", "popularity", "repeat")
# sequential is the anchor (1.0); the others move relative to it
TUNING_GRID: dict[str, tuple[float, ...]] = {
    "itemknn": (0.0, 0.25, 0.5, 1.0, 2.0),
    "popularity": (0.0, 0.1, 0.3),
    "repeat": (0.0, 0.5, 1.0, 2.0, 4.0),
}
MIN_TUNING_CASES = 30
CUTOFF = 10


@dataclass(frozen=True)
class TuningCase:
    """One held-out event: what each behaviour source proposed from the history before it."""

    per_source: Mapping[str, Mapping[str, float]]
    target: str


@dataclass(frozen=True)
class WeightChoice:
    """The weights to serve and the evidence for them (NDCG@10 on the held-out events)."""

    weights: dict[str, float]
    ndcg: float
    configured_ndcg: float
    cases: int
    tuned: bool
    sources: tuple[str, ...] = TUNED_SOURCES[:3]  # the ones the grid moved (sequential: the anchor)

    def summary(self) -> str:
        if not self.tuned:
            why = ": too few to tune on" if self.cases < MIN_TUNING_CASES else f", NDCG@10 {self.ndcg:.4f}"
            return f"source weights as configured ({self.cases} held-out events{why})"
        chosen = ", ".join(f"{source} {self.weights.get(source, 0.0):g}" for source in self.sources)
        return (f"source weights tuned on {self.cases} held-out events: {chosen} "
                f"(NDCG@10 {self.ndcg:.4f}; configured weights {self.configured_ndcg:.4f})")


def held_out_ndcg(cases: Sequence[TuningCase], weights: Mapping[str, float], cutoff: int = CUTOFF) -> float:
    """Mean NDCG@cutoff of the held-out events in the fused order of the tuned sources only."""
    if not cases:
        return 0.0
    total = 0.0
    for case in cases:
        behaviour = {s: scores for s, scores in case.per_source.items() if s in TUNED_SOURCES}
        order = [item for item, _ in fuse(behaviour, weights)[:cutoff]]
        if case.target in order:
            total += 1.0 / math.log2(order.index(case.target) + 2)
    return total / len(cases)


def choose_weights(
    cases: Sequence[TuningCase], configured: Mapping[str, float], grid: Mapping[str, Sequence[float]] = TUNING_GRID
) -> WeightChoice:
    """The configured weights with the tuned sources replaced by the best grid point.

    Ties keep the configured point when it is on the grid, else the first in grid order. Sources no
    case proposes anything for are left off the grid (they keep the configured weight).
    """
    base = {**configured, "sequential": 1.0}
    configured_score = held_out_ndcg(cases, configured)
    if len(cases) < MIN_TUNING_CASES:
        return WeightChoice(dict(configured), configured_score, configured_score, len(cases), tuned=False)
    proposed = {source for case in cases for source, scores in case.per_source.items() if scores}
    names = [name for name in grid if name in proposed]
    best, best_score = dict(configured), -1.0
    for values in itertools.product(*(grid[name] for name in names)):
        weights = {**base, **dict(zip(names, values, strict=True))}
        score = held_out_ndcg(cases, weights)
        if score > best_score or (score == best_score and weights == dict(configured)):
            best, best_score = weights, score
    return WeightChoice(best, best_score, configured_score, len(cases), tuned=True,
                        sources=tuple(s for s in TUNED_SOURCES if s == "sequential" or s in names))


def sample_rows(count: int, limit: int, seed: int = 0) -> np.ndarray:
    """A seeded, sorted sample of at most ``limit`` of ``count`` rows (all of them when fewer)."""
    if count <= limit:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed).choice(count, size=limit, replace=False))
