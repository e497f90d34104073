"""Balance relevance with coverage: maximal marginal relevance over item vectors.

``lambda_`` = 1 keeps the relevance order; lower values trade relevance for items unlike
those already chosen. An optional cap limits how many items one interest node may take.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np


def mmr(
    ranked: Sequence[tuple[str, float]],
    vectors: Mapping[str, np.ndarray],
    k: int,
    *,
    lambda_: float = 0.7,
    group_of: Mapping[str, str] | None = None,
    max_per_group: int | None = None,
) -> list[str]:
    """Pick k ids from ``ranked`` (id, relevance) greedily by MMR."""
    if not ranked or k <= 0:
        return []
    relevance = np.array([score for _, score in ranked], dtype=np.float64)
    spread = relevance.max() - relevance.min()
    relevance = (relevance - relevance.min()) / spread if spread > 0 else np.ones_like(relevance)
    ids = [item for item, _ in ranked]
    unit = {item: _unit(vectors[item]) for item in ids if item in vectors}
    chosen: list[str] = []
    per_group: Counter[str] = Counter()
    remaining = list(range(len(ids)))
    while remaining and len(chosen) < k:
        best_index, best_value = -1, -np.inf
        for index in remaining:
            item = ids[index]
            group = (group_of or {}).get(item)
            if max_per_group is not None and group is not None and per_group[group] >= max_per_group:
                continue
            similarity = max((float(unit[item] @ unit[c]) for c in chosen if item in unit and c in unit), default=0.0)
            value = lambda_ * relevance[index] - (1 - lambda_) * similarity
            if value > best_value:
                best_index, best_value = index, value
        if best_index < 0:
            break  # every remaining item is in a full group
        remaining.remove(best_index)
        chosen.append(ids[best_index])
        group = (group_of or {}).get(ids[best_index])
        if group is not None:
            per_group[group] += 1
    return chosen


def intra_list_diversity(ids: Sequence[str], vectors: Mapping[str, np.ndarray]) -> float:
    """Mean pairwise cosine distance of the list (0 = identical items, higher = more varied)."""
    units = [_unit(vectors[i]) for i in ids if i in vectors]
    if len(units) < 2:
        return 0.0
    matrix = np.stack(units)
    similarity = matrix @ matrix.T
    upper = similarity[np.triu_indices(len(units), k=1)]
    return float(np.mean(1.0 - upper))


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(vector)
    return vector / norm if norm > 0 else vector
