"""The paired test a role must pass: does the LLM beat its stand-in on the same cases?

One-sided sign-flip permutation test on the per-case differences (exact up to 2^16 sign patterns,
else a fixed-seed sample): no distribution assumed, and ties (difference 0) carry no evidence."""

from __future__ import annotations

import itertools

import numpy as np

SIGNIFICANCE = 0.05
EXACT_UP_TO = 16
SAMPLED = 20_000


def paired_p_value(llm: list[float], standin: list[float], lower_is_better: bool = False, seed: int = 0) -> float:
    """P(mean difference at least this favourable to the LLM | no difference); 1.0 when the LLM is not ahead."""
    if len(llm) != len(standin):
        raise ValueError(f"paired scores need the same cases: {len(llm)} LLM scores, {len(standin)} stand-in's")
    diffs = np.asarray(llm, float) - np.asarray(standin, float)
    if lower_is_better:
        diffs = -diffs
    diffs = diffs[diffs != 0]
    if diffs.size == 0 or diffs.mean() <= 0:
        return 1.0
    observed = diffs.sum()
    if diffs.size <= EXACT_UP_TO:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=diffs.size)))
    else:
        signs = np.random.default_rng(seed).choice((1.0, -1.0), size=(SAMPLED, diffs.size))
    totals = signs @ np.abs(diffs)
    return float((np.sum(totals >= observed - 1e-12) + (0 if diffs.size <= EXACT_UP_TO else 1))
                 / (len(totals) + (0 if diffs.size <= EXACT_UP_TO else 1)))


def earns(p_value: float, llm_mean: float, standin_mean: float, lower_is_better: bool = False) -> bool:
    """Significantly better on the metric; a tie keeps the (cheaper) stand-in."""
    ahead = llm_mean < standin_mean if lower_is_better else llm_mean > standin_mean
    return ahead and p_value < SIGNIFICANCE
