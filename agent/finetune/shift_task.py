"""What a shift adapter learns from and is judged on: one log, one level of the tree, training cuts
and later held-out cuts, and the context that rebuilds the profiler's summary at any cut.

Held-out cuts come after every training cut of the same user (an event horizon: each user's latest
window; a calendar horizon: the latest cut, and training cuts whose window ended before it), so
neither the adapter nor the stand-in it is compared with has seen the windows it is judged on.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from agent.finetune.examples import ShiftExample, build_examples
from agent.finetune.replay import ReplayContext
from agent.forecast.cases import Cut, UserLog, build_cases, level_log
from agent.forecast.horizon import DAY_S, Horizon
from agent.forecast.model import cross_entropy, fit_level
from agent.forecast.population import LevelIndex
from memory.domain import DomainWords


@dataclass
class ShiftTask:
    logs: Mapping[str, UserLog]
    level: LevelIndex
    context: ReplayContext
    horizon: Horizon
    domain: DomainWords
    train_cuts: Sequence[Cut]
    held_cuts: Sequence[Cut]
    weights: Mapping[str, Sequence[float]] | None = None
    window_size: int = 200

    def examples(self, cuts: Sequence[Cut]) -> list[ShiftExample]:
        return build_examples(self.logs, cuts, self.level, level_log(self.logs, self.level), self.context,
                              self.horizon, self.domain, self.weights)

    def standin_cross_entropy(self, held: Sequence[ShiftExample], seed: int = 0) -> list[float]:
        """The learned forecast fitted on the training cuts only, scored on each held-out example."""
        log = level_log(self.logs, self.level)
        train, _ = build_cases(self.logs, self.train_cuts, self.level, log, self.horizon, self.window_size)
        model = fit_level(train, self.level, seed)
        wanted = {(e.user, e.as_of) for e in held}
        cuts = [cut for cut in self.held_cuts if (cut.user, cut.as_of) in wanted]
        cases, kept = build_cases(self.logs, cuts, self.level, log, self.horizon, self.window_size)
        by_key = {(cut.user, cut.as_of): case for case, cut in zip(cases, kept, strict=True)}
        return [cross_entropy(model.distribution(by_key[(e.user, e.as_of)].user, by_key[(e.user, e.as_of)].population),
                              e.truth) for e in held]


def split_cuts(cuts: Sequence[Cut], horizon: Horizon) -> tuple[list[Cut], list[Cut]]:
    """(training, held-out): each user's latest window (events) or the latest cut (days) is held out."""
    if horizon.unit == "days":
        latest = max(cut.as_of for cut in cuts)
        return [c for c in cuts if c.as_of + horizon.size * DAY_S <= latest], [c for c in cuts if c.as_of == latest]
    last = {}
    for cut in cuts:
        if cut.future > last.get(cut.user, (-1,))[0]:
            last[cut.user] = (cut.future, cut)
    held = [cut for _, cut in last.values()]
    ends = {cut.user: cut.history for cut in held}
    return [c for c in cuts if c.future <= ends[c.user]], held


def sample(cuts: Sequence[Cut], count: int | None, seed: int) -> list[Cut]:
    """A seeded sample of ``count`` cuts (all of them when there are fewer), in a stable order."""
    ordered = sorted(cuts, key=lambda cut: (cut.user, cut.as_of, cut.history))
    if count is None or count >= len(ordered):
        return ordered
    return sorted(random.Random(seed).sample(ordered, count), key=lambda cut: (cut.user, cut.as_of, cut.history))


def mean(values: Sequence[float]) -> float | None:
    return round(float(np.mean(values)), 4) if len(values) else None
