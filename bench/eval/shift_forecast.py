"""`bench eval shift` forecast part: every method as a distribution over one level's nodes, scored on
identical test cases (cross-entropy, Brier, hit@3, shift-case hit@3), plus calibration of the
shipped forecast's stated probabilities (its "will grow" / "will shrink" claims).

Baselines learn nothing but one smoothing weight each (towards everyone's long-run mix, so no
node is impossible), chosen on the validation cut only:
- persistence: the last horizon-long window repeats;
- long_run: the user's whole-history mix;
- recent: a recency-weighted mix (half-life a third of the horizon);
- trend: the recent window pushed on along its move away from the long-run mix;
- seasonal: the long-run mix blended with what everyone did in the latest window.
`shiftrec` is agent.forecast as shipped, fitted on the training cuts only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from agent.forecast.cases import Cut, build_cases, level_log
from agent.forecast.features import smoothed, trend_mix
from agent.forecast.model import Case, fit_level
from agent.forecast.ranking import choose_discount, ranked
from agent.forecast.shift_claims import claims
from bench.eval.forecast_metrics import calibration, cross_entropy, score_method
from bench.eval.shift_data import ShiftDataset

WINDOW_EVENTS = 200  # the memory's short-term window (MemorySettings.short_term_window_events)
SMOOTHING = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7)

Mix = Callable[[Case], np.ndarray]
BASE_MIXES: dict[str, Mix] = {
    "persistence": lambda case: case.user.recent,
    "long_run": lambda case: case.user.long_run,
    "recent": lambda case: case.user.decayed,
    "trend": lambda case: trend_mix(case.user),
}


def seasonal_mix(weight: float) -> Mix:
    return lambda case: smoothed(case.user.long_run, case.population.recent, weight)


def _smoothed(mix: Mix, weight: float) -> Callable[[Case], np.ndarray]:
    return lambda case: smoothed(mix(case), case.population.long_run, weight)


def _best(candidates: dict[float, Callable[[Case], np.ndarray]], validation: list[Case]) -> tuple[float, Callable]:
    scores = {w: np.mean([cross_entropy(f(c), c.truth) for c in validation]) for w, f in candidates.items()}
    weight = min(scores, key=scores.get)
    return weight, candidates[weight]


def baselines(validation: list[Case]) -> tuple[dict[str, Callable], dict[str, float]]:
    """Each baseline at its validation-best smoothing (seasonal: its blend weight, then smoothing)."""
    methods, chosen = {}, {}
    for name, mix in BASE_MIXES.items():
        chosen[name], methods[name] = _best({w: _smoothed(mix, w) for w in SMOOTHING}, validation)
    blend, _ = _best({w: seasonal_mix(w) for w in SMOOTHING}, validation)
    chosen["seasonal_blend"] = blend
    chosen["seasonal"], methods["seasonal"] = _best(
        {w: _smoothed(seasonal_mix(blend), w) for w in SMOOTHING}, validation)
    return methods, chosen


def horizon_s(data: ShiftDataset) -> float:
    return data.horizon.size * 86400.0


def _test_groups(pairs: list[tuple[Case, Cut]], data: ShiftDataset) -> list[tuple[float, list[tuple[Case, Cut]]]]:
    """(case, cut) pairs by cut time (a calendar horizon refits before each cut, as `shiftrec train` would)."""
    if data.horizon.unit != "days":
        return [(max(cut.as_of for _, cut in pairs), pairs)]
    groups: dict[float, list[tuple[Case, Cut]]] = {}
    for case, cut in pairs:
        groups.setdefault(cut.as_of, []).append((case, cut))
    return sorted(groups.items())


def evaluate_level(data: ShiftDataset, level_name: str, echo: Callable[[str], None], seed: int = 0,
                   keep_cases: bool = False) -> dict:
    """Every method on the level's test cases; ``keep_cases`` returns them (with cuts and the shipped forecast)."""
    level = data.levels[level_name]
    log = level_log(data.logs, level)
    started = time.perf_counter()
    train, validation, (test, test_cuts) = (
        build_cases(data.logs, cuts, level, log, data.horizon, WINDOW_EVENTS)
        for cuts in (data.train, data.validation, data.test))
    train, validation = list(zip(*train, strict=True)), list(zip(*validation, strict=True))  # (case, cut) pairs
    built = time.perf_counter() - started
    methods, chosen = baselines([case for case, _ in validation])
    _, discount = choose_discount(fit_level([c for c, _ in train], level, seed), [c for c, _ in validation])
    fit_s = forecast_s = 0.0
    forecasts, ranks, stated, happened, model = [], [], [], [], None
    groups = _test_groups(list(zip(test, test_cuts, strict=True)), data)
    for as_of, group in groups:
        started = time.perf_counter()
        if data.horizon.unit == "days":  # every cut whose horizon has ended, earlier test cuts included
            earlier = [c for c, cut in [*train, *validation, *zip(test, test_cuts)]
                       if cut.as_of + horizon_s(data) <= as_of]
        else:
            earlier = [c for c, _ in [*train, *validation]]
        model = replace(fit_level(earlier, level, seed), leader_discount=discount["chosen"])
        fit_s += time.perf_counter() - started
        started = time.perf_counter()
        for case, _ in group:
            p = model.distribution(case.user, case.population)
            forecasts.append(p)
            ranks.append(-ranked(model, case.user, p).argsort().astype(float))  # a score per node: higher = earlier
            for claim in claims(model, case.user, p):
                stated.append(claim.probability)
                happened.append(claim.came_true(case.user.recent, case.truth))
        forecast_s += time.perf_counter() - started
    refits = len(groups)
    order = [pair for _, group in groups for pair in group]  # the order the forecasts were made in
    test, test_cuts = [case for case, _ in order], [cut for _, cut in order]
    per_forecast_ms = forecast_s / max(len(test), 1) * 1000
    truths, recents = [c.truth for c in test], [c.user.recent for c in test]
    out = {name: score_method([f(c) for c in test], truths, recents) for name, f in methods.items()}
    out["shiftrec"] = score_method(forecasts, truths, recents, ranks)
    reliability = calibration(stated, happened)
    out["shiftrec"]["ece"] = reliability["ece"]
    echo(f"{data.name}/{level_name}: {len(level)} nodes, cases train {len(train)} validation {len(validation)} "
         f"test {len(test)}; " + ", ".join(f"{m} {r['xent']:.3f}/{r['shift_hit@3']}" for m, r in out.items())
         + f"; ece {reliability['ece']}")
    kept = {"test_cases": list(zip(test, test_cuts, forecasts, strict=True)), "baselines": methods} if keep_cases else {}
    return {**kept, "methods": out, "reliability": reliability, "smoothing": chosen, "leader_discount": discount,
            "coefficients": model.blend.as_dict(),
            "cases": {"train": len(train), "validation": len(validation), "test": len(test)},
            "costs": {"cases_built_s": round(built, 1), "fit_s": round(fit_s, 1), "refits": refits,
                      "ms_per_forecast": round(per_forecast_ms, 3)}}
