"""Combine candidate scores from several sources into one order.

Each source scores on its own scale (cosine, logits, counts), so scores are z-normalised
per source over the candidates it scored, then summed with per-source weights (set from
validation measurements, read from config). A candidate a source did not score gets that
source's floor (its lowest z), not zero: silence is weak evidence, not average evidence.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def zscores(scores: Mapping[str, float]) -> dict[str, float]:
    """Per-source standardisation; a constant source carries no information (all zero)."""
    if not scores:
        return {}
    values = np.fromiter(scores.values(), dtype=np.float64)
    spread = values.std()
    if spread < 1e-12:
        return dict.fromkeys(scores, 0.0)
    normalised = (values - values.mean()) / spread
    return dict(zip(scores, normalised.tolist(), strict=True))


def fuse(
    per_source: Mapping[str, Mapping[str, float]], weights: Mapping[str, float]
) -> list[tuple[str, float]]:
    """Candidates ordered by weighted z-score sum, best first; ties broken by id for stability."""
    candidates = sorted({item for scores in per_source.values() for item in scores})
    totals = dict.fromkeys(candidates, 0.0)
    for source, scores in per_source.items():
        weight = weights.get(source, 0.0)
        if weight == 0.0 or not scores:
            continue
        standardised = zscores(scores)
        floor = min(standardised.values())
        for item in candidates:
            totals[item] += weight * standardised.get(item, floor)
    return sorted(totals.items(), key=lambda pair: (-pair[1], pair[0]))
