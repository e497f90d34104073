"""Scores of a forecast distribution against the next window's mix, and calibration of stated probabilities."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from agent.forecast.model import cross_entropy

TOP = 3
BINS = 10


def brier(p: np.ndarray, q: np.ndarray) -> float:
    """sum (p - q)^2 over the level's nodes (the mix Brier score; 0 is perfect)."""
    return float(((p - q) ** 2).sum())


def dominant(mix: np.ndarray) -> int | None:
    return int(np.argmax(mix)) if mix.any() else None  # ties: the first node id


def top(p: np.ndarray, k: int = TOP) -> list[int]:
    """The k most likely nodes; ties by node id."""
    return np.lexsort((np.arange(len(p)), -np.round(p, 12)))[:k].tolist()


def _hit(ranks: np.ndarray, truth: int | None) -> bool:
    """Among the first TOP nodes; a node ranked -inf was never named (a method that names fewer than TOP)."""
    return truth is not None and truth in top(ranks) and bool(np.isfinite(ranks[truth]))


def calibration(probabilities: Sequence[float], outcomes: Sequence[bool], bins: int = BINS) -> dict:
    """Expected calibration error over equal-width bins, and the reliability table behind it."""
    p, y = np.asarray(probabilities, dtype=float), np.asarray(outcomes, dtype=float)
    if not len(p):
        return {"ece": None, "claims": 0, "bins": []}
    which = np.minimum((p * bins).astype(int), bins - 1)
    table, ece = [], 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            stated, observed = float(p[inside].mean()), float(y[inside].mean())
            ece += inside.mean() * abs(stated - observed)
            table.append({"bin": b, "stated": round(stated, 4), "observed": round(observed, 4),
                          "claims": int(inside.sum())})
    return {"ece": round(float(ece), 4), "claims": int(len(p)), "bins": table}


def score_method(predictions: Sequence[np.ndarray], truths: Sequence[np.ndarray], recents: Sequence[np.ndarray],
                 ranks: Sequence[np.ndarray] | None = None) -> dict:
    """xent, brier, hit@3 overall and on shift cases (the next leader differs from the last window's).

    hit@3 ranks by ``ranks`` where the method states which node will lead (its lead probabilities), else by
    the predicted mix."""
    ranks = predictions if ranks is None else ranks
    xent = np.array([cross_entropy(p, q) for p, q in zip(predictions, truths, strict=True)])
    brr = np.array([brier(p, q) for p, q in zip(predictions, truths, strict=True)])
    hits = np.array([_hit(r, dominant(q)) for r, q in zip(ranks, truths, strict=True)], dtype=float)
    shift = np.array([dominant(q) != dominant(r) for q, r in zip(truths, recents, strict=True)])
    return {"xent": round(float(xent.mean()), 4), "brier": round(float(brr.mean()), 4),
            "hit@3": round(float(hits.mean()), 4),
            "shift_hit@3": round(float(hits[shift].mean()), 4) if shift.any() else None,
            "cases": len(truths), "shift_cases": int(shift.sum())}
