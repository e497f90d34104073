"""Candidate tables and the product's z-score fusion, vectorised so a weight grid runs in seconds.

One table per (protocol, split part): per user, the candidate items (the sampled 20 for
P1; for full ranking, the union of every source's ``candidates_per_source`` best unseen
items, as ``agent.pipeline.candidates`` builds it), each source's raw score where it scored the
item, and the z-scores ``agent.pipeline.fusion.fuse`` would use (per source over the candidates
it scored; an item a source did not score gets that source's floor; an absent source
adds nothing). ``fused_ranks`` is then one tensor product per weight setting; a test
checks its order against ``agent.pipeline.fusion.fuse`` itself.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from agent.rankers.ranking_metrics import metrics_from_ranks
from bench.eval.protocols import MISS_RANK, top_unseen

SOURCES = ("sequential", "itemknn", "memory_long", "memory_short", "memory_shift", "popularity")
WEIGHT_GRID: dict[str, tuple[float, ...]] = {
    "sequential": (0.0, 1.0),
    "itemknn": (0.0, 0.25, 0.5, 1.0, 2.0),
    "memory_long": (0.0, 0.1, 0.3),
    "memory_short": (0.0, 0.1, 0.3),
    "memory_shift": (0.0, 0.1, 0.3),
    "popularity": (0.0, 0.1, 0.3),
}
MEMORY_GRID: dict[str, tuple[float, ...]] = {
    "memory_long": (0.0, 0.5, 1.0), "memory_short": (0.0, 0.5, 1.0), "memory_shift": (0.0, 0.5, 1.0),
}


@dataclass
class CandidateTable:
    users: list
    sources: tuple[str, ...]
    items: np.ndarray  # (n, C) vocabulary indices, -1 = padding
    raw: np.ndarray  # (n, S, C) raw scores, nan where the source did not score the item
    z: np.ndarray  # (n, S, C) fusion inputs
    target_pos: np.ndarray  # (n,) column of the target, -1 when no source proposed it

    def subset(self, users: Sequence) -> CandidateTable:
        index = {user: row for row, user in enumerate(self.users)}
        rows = np.array([index[user] for user in users], dtype=np.int64)
        return CandidateTable(list(users), self.sources, self.items[rows], self.raw[rows], self.z[rows],
                              self.target_pos[rows])

    def per_source(self, row: int) -> dict[str, dict[int, float]]:
        """What the product's CandidateSet.per_source would hold for this user (vocabulary indices)."""
        out: dict[str, dict[int, float]] = {}
        for s, source in enumerate(self.sources):
            scored = np.flatnonzero(~np.isnan(self.raw[row, s]) & (self.items[row] >= 0))
            if len(scored):
                out[source] = {int(self.items[row, c]): float(self.raw[row, s, c]) for c in scored}
        return out


def _z_with_floor(raw: np.ndarray) -> np.ndarray:
    """(S, C) raw with nan -> z per source over its scored items, floor for the rest, 0 for absent sources."""
    z = np.zeros_like(raw, dtype=np.float64)
    for s in range(raw.shape[0]):
        scored = ~np.isnan(raw[s])
        if not scored.any():
            continue
        values = raw[s, scored]
        spread = values.std()
        if spread < 1e-12:
            continue  # a constant source carries no information
        normalised = (values - values.mean()) / spread
        z[s, scored] = normalised
        z[s, ~scored] = normalised.min()
    return z


def sampled_table(users: list, candidates: np.ndarray, scores: Mapping[str, np.ndarray | None]) -> CandidateTable:
    """P1: every present source scores all candidates (column 0 is the target).

    ``scores[source]`` is (users, C) over the candidates, rows of nan where the source is absent.
    """
    n, c = candidates.shape
    raw = np.full((n, len(SOURCES), c), np.nan)
    for s, source in enumerate(SOURCES):
        if scores.get(source) is not None:
            raw[:, s, :] = scores[source]
    z = np.stack([_z_with_floor(raw[row]) for row in range(n)]) if n else np.zeros((0, len(SOURCES), c))
    return CandidateTable(users, SOURCES, candidates.copy(), raw, z, np.zeros(n, dtype=np.int64))


def retrieval_table(
    users: list, histories: Sequence[np.ndarray], targets: np.ndarray,
    full_scores: Callable[[int], dict[str, np.ndarray]], per_source: int,
) -> CandidateTable:
    """Full ranking: each source proposes its ``per_source`` best unseen items; the union is the candidate list.

    ``full_scores(row)`` gives, per present source, scores over the whole vocabulary.
    """
    rows_items, rows_raw = [], []
    for row in range(len(users)):
        scores = full_scores(row)
        proposals = {}
        for source in SOURCES:
            if source in scores:
                proposals[source] = top_unseen(scores[source], histories[row], per_source)
        union = np.unique(np.concatenate([items for items, _ in proposals.values()])) if proposals else np.zeros(0, int)
        raw = np.full((len(SOURCES), len(union)), np.nan)
        position = {int(item): col for col, item in enumerate(union)}
        for s, source in enumerate(SOURCES):
            if source in proposals:
                items, values = proposals[source]
                raw[s, [position[int(i)] for i in items]] = values
        rows_items.append(union)
        rows_raw.append(raw)
    width = max((len(items) for items in rows_items), default=1)
    n = len(users)
    items = np.full((n, width), -1, dtype=np.int64)
    raw = np.full((n, len(SOURCES), width), np.nan)
    z = np.zeros((n, len(SOURCES), width))
    target_pos = np.full(n, -1, dtype=np.int64)
    for row in range(n):
        k = len(rows_items[row])
        items[row, :k] = rows_items[row]
        raw[row, :, :k] = rows_raw[row]
        z[row, :, :k] = _z_with_floor(rows_raw[row])
        hit = np.flatnonzero(rows_items[row] == targets[row])
        target_pos[row] = hit[0] if len(hit) else -1
    return CandidateTable(users, SOURCES, items, raw, z, target_pos)


def fused_scores(table: CandidateTable, weights: Mapping[str, float]) -> np.ndarray:
    w = np.array([weights.get(source, 0.0) for source in table.sources], dtype=np.float64)
    fused = np.einsum("s,nsc->nc", w, table.z)
    fused[table.items < 0] = -np.inf
    return fused


def fused_ranks(table: CandidateTable, weights: Mapping[str, float]) -> np.ndarray:
    """0-based pessimistic rank of each target in the fused order; MISS_RANK when no source proposed it."""
    fused = fused_scores(table, weights)
    rows = np.arange(len(table.users))
    target = fused[rows, np.maximum(table.target_pos, 0)]
    ranks = (fused >= target[:, None]).sum(axis=1) - 1
    return np.where(table.target_pos >= 0, ranks, MISS_RANK)


def fused_pools(table: CandidateTable, weights: Mapping[str, float], size: int) -> list[np.ndarray]:
    """Each user's ``size`` best candidates by fused score (ties by item index, as the product breaks them by id)."""
    fused = fused_scores(table, weights)
    pools = []
    for row in range(len(table.users)):
        valid = np.flatnonzero(table.items[row] >= 0)
        order = valid[np.lexsort((table.items[row, valid], -fused[row, valid]))][:size]
        pools.append(table.items[row, order])
    return pools


def grid(space: Mapping[str, Sequence[float]]) -> list[dict[str, float]]:
    names = list(space)
    combos = [dict(zip(names, values, strict=True)) for values in itertools.product(*(space[n] for n in names))]
    return [c for c in combos if any(v > 0 for v in c.values())]


def select_weights(
    validation: CandidateTable, space: Mapping[str, Sequence[float]], k: int = 10
) -> tuple[dict[str, float], float, list[tuple[dict[str, float], float]]]:
    """The grid point with the best validation NDCG@k (first in grid order on ties). Test data never enters."""
    results = []
    for weights in grid(space):
        score = metrics_from_ranks(fused_ranks(validation, weights), k)[f"ndcg@{k}"]
        results.append((weights, score))
    best, best_score = max(results, key=lambda pair: pair[1])  # max keeps the first of equal scores
    ranked = sorted(results, key=lambda pair: -pair[1])
    return best, best_score, ranked[:10]
