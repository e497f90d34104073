"""Which nodes will lead next, as a top-k list: the lead probabilities with the current leader
discounted by a factor chosen on held-out cuts.

The lead probabilities rank best for "is the next leader among the first three" overall, but
they keep the current leader in the list almost always, and on the cases where the lead moves
(the shifts this forecast exists for) that slot is wasted. The discount is the smallest that
keeps overall hit@3 at least the long-run mix's on the held-out cut, taking the most shift-case
hit@3 that allows (the probabilities themselves are never changed)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from agent.forecast.model import Case, LevelModel

DISCOUNTS = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1)
TOP = 3


def ranked(model: LevelModel, case_user, forecast: np.ndarray, discount: float | None = None) -> np.ndarray:
    """Node positions, most likely next leader first (ties by id), the current leader discounted."""
    lead = model.lead_probability(case_user, forecast).copy()
    if case_user.leader is not None:
        lead[case_user.leader] *= model.leader_discount if discount is None else discount
    return np.lexsort((np.arange(len(lead)), -np.round(lead, 12)))


def choose_discount(model: LevelModel, held_out: Sequence[Case]) -> tuple[LevelModel, dict]:
    """The model with the discount that wins the most shift cases while overall hit@3 stays >= the long-run mix's."""
    if not held_out:
        return model, {"cases": 0}
    forecasts = [model.distribution(c.user, c.population) for c in held_out]
    leaders = [int(np.argmax(c.truth)) for c in held_out]
    shift = np.array([c.user.leader is None or leader != c.user.leader for c, leader in zip(held_out, leaders)])
    long_run = np.mean([leader in np.lexsort((np.arange(len(c.user.long_run)), -c.user.long_run))[:TOP]
                        for c, leader in zip(held_out, leaders, strict=True)])
    rows = {}
    for discount in DISCOUNTS:
        hits = np.array([leader in ranked(model, c.user, p, discount)[:TOP]
                         for c, p, leader in zip(held_out, forecasts, leaders, strict=True)])
        rows[discount] = (float(hits.mean()), float(hits[shift].mean()) if shift.any() else 0.0)
    allowed = [d for d, (overall, _) in rows.items() if overall >= long_run] or [1.0]
    best = max(allowed, key=lambda d: (rows[d][1], d))
    return replace(model, leader_discount=best), {
        "cases": len(held_out), "chosen": best, "long_run_hit@3": round(float(long_run), 4),
        "by_discount": {str(d): {"hit@3": round(o, 4), "shift_hit@3": round(s, 4)} for d, (o, s) in rows.items()}}
