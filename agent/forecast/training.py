"""Fit the forecast on a log: cuts one horizon apart back from its end (a calendar horizon) or
per-user cuts a few horizons before each user's end (an event horizon), each level of the tree.

The latest cut is held out first to measure the fit against the long-run mix (kept in the
model's ``validation``), then every cut trains the model that serves. Everyone's mixes are
taken at the log's end: the population a new forecast reads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from agent.forecast.cases import Cut, build_cases, day_cuts, event_cuts, level_log, monthly_cut_times, user_logs
from agent.forecast.features import smoothed
from agent.forecast.horizon import DAY_S, Horizon
from agent.forecast.model import cross_entropy, fit_level
from agent.forecast.model_file import ForecastModel
from agent.forecast.population import LevelIndex, Population
from agent.forecast.ranking import choose_discount
from memory.history_view import Nodes, item_nodes
from memory.taxonomy import node_depth

log = logging.getLogger(__name__)
EVENT_CUTS_BACK = (1, 2, 3, 4, 5)
MAX_CLAIM_NODES = 500
MIN_CLAIM_COVERAGE = 0.95  # share of the log's distinct item placements a claim level must reach
MIN_CASES = 20


class NotEnoughHistoryError(ValueError):
    """Too few users with history on both sides of a cut to fit a forecast."""


@dataclass(frozen=True)
class ForecastInputs:
    """What fitting needs besides the log: where each item sits in the tree, and the horizon."""

    nodes_of: Mapping[str, Nodes]
    named: Callable[[str], bool]  # a named category (not a cluster): claims may speak of it
    horizon: Horizon
    window_size: int = 200

    @classmethod
    def from_memory(cls, memory, items: Iterable[str], horizon: Horizon) -> ForecastInputs:
        """The memory catalog's chains of ``items`` (the log's items) and which nodes are named paths."""
        entries = memory.catalog.entries(items)
        topics = memory.catalog.topics()
        return cls({item: item_nodes(entry.pairs) for item, entry in entries.items()},
                   lambda node: node_depth(node) == 0 or getattr(topics.get(node), "mode", "cluster") == "path",
                   horizon, memory.settings.memory.short_term_window_events)


def claim_depth(placed: Sequence[Nodes], depths: Sequence[int], named: Callable[[str], bool]) -> int:
    """The deepest fitted level that places nearly every item of the log (MIN_CLAIM_COVERAGE), whose nodes are
    named categories (not clusters), and that has at most MAX_CLAIM_NODES nodes; else the topics. A level only
    some items reach (one bookshop shelf in a film catalog) would make claims about a corner most users never
    touch; a few grocery products filed under a department alone should not rule out the category level."""
    def fits(depth: int) -> bool:
        level = {node for nodes in placed for node in nodes if node_depth(node) == depth}
        covered = sum(any(node_depth(node) == depth for node in nodes) for nodes in placed)
        return (covered >= MIN_CLAIM_COVERAGE * len(placed) and len(level) <= MAX_CLAIM_NODES
                and all(named(node) for node in level))

    good = [depth for depth in sorted(depths) if fits(depth)]
    return good[-1] if good else min(depths)


def fit_forecast(rows: Sequence[tuple[str, str, float]], nodes_of: Mapping[str, Nodes], horizon: Horizon,
                 named: Callable[[str], bool], window_size: int = 200, seed: int = 0,
                 echo: Callable[[str], None] = log.info) -> ForecastModel:
    logs = user_logs(rows, nodes_of)
    if not logs:
        raise NotEnoughHistoryError("the log is empty: record events before fitting a forecast")
    all_nodes = sorted({node for nodes in nodes_of.values() for node in nodes})
    cuts = forecast_cuts(logs, horizon)
    end = max(float(log_.times[-1]) for log_ in logs.values())
    levels, populations, validation = {}, {}, {}
    for depth in sorted({node_depth(node) for node in all_nodes}):
        level = LevelIndex.of(all_nodes, depth)
        events = level_log(logs, level)
        cases, kept = build_cases(logs, cuts, level, events, horizon, window_size)
        if len(cases) < MIN_CASES:
            if depth == 0:
                raise NotEnoughHistoryError(f"only {len(cases)} forecast cases (at least {MIN_CASES}): the log needs "
                                            "more users with events before and after a cut")
            echo(f"forecast depth {depth}: only {len(cases)} cases (at least {MIN_CASES}), not fitted")
            continue
        latest = max(cut.as_of for cut in kept) if horizon.unit == "days" else None
        validation[str(depth)], discount = _held_out_check(cases, kept, level, latest, horizon, seed)
        levels[depth] = replace(fit_level(cases, level, seed), leader_discount=discount)
        populations[depth] = Population.at(events, len(level), end + 1.0, horizon.population_window_s)
        echo(f"forecast depth {depth}: {len(level)} nodes, {len(cases)} cases; held-out cross-entropy "
             f"{validation[str(depth)].get('shiftrec')} vs long-run {validation[str(depth)].get('long_run')}")
    placed = list({nodes for log_ in logs.values() for nodes in log_.nodes})
    return ForecastModel(horizon, levels, populations, claim_depth(placed, sorted(levels), named), end,
                         validation=validation)


def forecast_cuts(logs, horizon: Horizon) -> list[Cut]:
    """The cuts the forecast is fitted on (and the shift adapter learns from)."""
    if horizon.unit == "days":
        return day_cuts(logs, monthly_cut_times(logs, horizon), horizon)
    return [cut for back in EVENT_CUTS_BACK for cut in event_cuts(logs, back, horizon, min_history=5)]


def _held_out_check(cases, kept: list[Cut], level, latest: float | None, horizon: Horizon,
                    seed: int) -> tuple[dict, float]:
    """Fit without the latest cut, score it (the forecast against the long-run mix, cross-entropy) and choose
    the next-leader list's discount on it (ranking.py)."""
    if latest is None:  # an event horizon: each user's latest cut is the one nearest their end
        held = [i for i, cut in enumerate(kept) if cut.future == max(c.future for c in kept if c.user == cut.user)]
    else:
        held = [i for i, cut in enumerate(kept) if cut.as_of == latest]
    held_set = set(held)
    earlier = [case for i, (case, cut) in enumerate(zip(cases, kept, strict=True))
               if i not in held_set and (latest is None or cut.as_of + horizon.size * DAY_S <= latest)]
    if len(earlier) < MIN_CASES or not held:
        return {"cases": len(held)}, 1.0
    model, choice = choose_discount(fit_level(earlier, level, seed), [cases[i] for i in held])
    ours = np.mean([cross_entropy(model.distribution(cases[i].user, cases[i].population), cases[i].truth) for i in held])
    base = np.mean([cross_entropy(smoothed(cases[i].user.long_run, cases[i].population.long_run, 0.5), cases[i].truth)
                    for i in held])
    return ({"cases": len(held), "shiftrec": round(float(ours), 4), "long_run": round(float(base), 4),
             "leader_discount": choice.get("chosen")}, model.leader_discount)
