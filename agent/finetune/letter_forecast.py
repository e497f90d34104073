"""The shift forecast an LLM makes from one forward pass: its first-token log-probabilities over the
option letters, renormalised over the options, spread onto the level's nodes and blended with
everyone's long-run mix (so a node it did not list keeps a share, and a weak model cannot be
infinitely wrong). The blend weight is chosen on held-out cuts, never on the test.

A scorer is any ``(messages, letters) -> {letter: logprob}``: the served model through vLLM
(``LLM.label_logprobs``), or the adapter in-process while it trains.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from agent.finetune.examples import LETTERS, ShiftExample
from agent.forecast.model import cross_entropy
from agent.llm.interface import Message

Scorer = Callable[[Sequence[Message], Sequence[str]], Mapping[str, float]]
SMOOTHING = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9)


def option_probabilities(logprobs: Mapping[str, float], count: int) -> np.ndarray:
    """The first ``count`` letters' probabilities, renormalised over them."""
    values = np.array([logprobs[letter] for letter in LETTERS[:count]], dtype=np.float64)
    values = np.exp(values - values.max())
    return values / values.sum()


def level_distribution(example: ShiftExample, options: np.ndarray, smoothing: float) -> np.ndarray:
    """Option probabilities on the level's nodes, blended ``smoothing`` with everyone's long-run mix."""
    return spread(options, example.option_positions, example.prior, smoothing)


def spread(options: np.ndarray, positions: Sequence[int], prior: np.ndarray, smoothing: float) -> np.ndarray:
    named = np.zeros(len(prior))
    named[list(positions)] = options
    return (1.0 - smoothing) * named + smoothing * prior


def score_options(scorer: Scorer, examples: Sequence[ShiftExample],
                  tick: Callable[[], None] = lambda: None) -> list[np.ndarray]:
    """Every example's option probabilities from ``scorer``, in order."""
    out = []
    for example in examples:
        letters = LETTERS[: len(example.options)]
        out.append(option_probabilities(scorer(example.messages, letters), len(letters)))
        tick()
    return out


def choose_smoothing(examples: Sequence[ShiftExample], options: Sequence[np.ndarray]) -> tuple[float, dict]:
    """The blend weight with the lowest mean cross-entropy on ``examples`` (held-out cuts) and each weight's."""
    scores = {w: float(np.mean([cross_entropy(level_distribution(e, o, w), e.truth)
                                for e, o in zip(examples, options, strict=True)])) for w in SMOOTHING}
    best = min(scores, key=scores.get)
    return best, {str(w): round(v, 4) for w, v in scores.items()}


def cross_entropies(examples: Sequence[ShiftExample], options: Sequence[np.ndarray], smoothing: float) -> list[float]:
    return [float(cross_entropy(level_distribution(e, o, smoothing), e.truth))
            for e, o in zip(examples, options, strict=True)]
