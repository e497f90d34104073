"""Cuts of a log and the forecast cases they give: what a user had done before time t, and the
mix of what they did in the horizon after it. A case reads nothing after its cut; the truth
window is only ever used as the answer."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from agent.forecast.features import user_vectors
from agent.forecast.horizon import DAY_S, Horizon
from agent.forecast.model import Case
from agent.forecast.population import LevelIndex, LevelLog, Population
from memory.history_view import Nodes, view_from_events

MIN_HISTORY = 5


@dataclass(frozen=True)
class UserLog:
    user: str
    times: np.ndarray  # float64, ascending
    nodes: tuple[Nodes, ...]
    items: tuple[str, ...] = ()  # each event's item (what a summary of the history names)

    def events(self, end: int) -> list[tuple[float, Nodes]]:
        return list(zip(self.times[:end].tolist(), self.nodes[:end], strict=True))


@dataclass(frozen=True)
class Cut:
    """``history`` events before ``as_of``; the truth is events ``history`` to ``future`` (exclusive)."""

    user: str
    as_of: float
    history: int
    future: int


def user_logs(rows: Iterable[tuple[str, str, float]], nodes_of: Mapping[str, Nodes]) -> dict[str, UserLog]:
    """Each user's events in time order (items the catalog does not place are left out)."""
    by_user: dict[str, list[tuple[float, Nodes, str]]] = {}
    for user, item, ts in rows:
        nodes = nodes_of.get(item)
        if nodes:
            by_user.setdefault(user, []).append((float(ts), nodes, item))
    logs = {}
    for user, events in by_user.items():
        events.sort(key=lambda event: event[0])
        logs[user] = UserLog(user, np.array([ts for ts, _, _ in events]), tuple(nodes for _, nodes, _ in events),
                             tuple(item for _, _, item in events))
    return logs


def level_log(logs: Mapping[str, UserLog], level: LevelIndex) -> LevelLog:
    position = level.position
    return LevelLog.build([(ts, [position[n] for n in nodes if n in position])
                           for log in logs.values() for ts, nodes in zip(log.times.tolist(), log.nodes, strict=True)])


def day_cuts(logs: Mapping[str, UserLog], cut_times: Sequence[float], horizon: Horizon,
             min_history: int = MIN_HISTORY) -> list[Cut]:
    """At each time: every user with ``min_history`` events before it and one or more in the horizon."""
    cuts = []
    for log in logs.values():
        for t in cut_times:
            history = int(np.searchsorted(log.times, t, side="left"))
            future = int(np.searchsorted(log.times, t + horizon.size * DAY_S, side="left"))
            if history >= min_history and future > history:
                cuts.append(Cut(log.user, float(t), history, future))
    return cuts


def event_cuts(logs: Mapping[str, UserLog], back: int, horizon: Horizon, min_history: int) -> list[Cut]:
    """Per user, the cut ``back`` horizons before their end: the truth is the next ``horizon.size`` events."""
    cuts = []
    for log in logs.values():
        history = len(log.times) - back * horizon.size
        if history >= min_history:
            cuts.append(Cut(log.user, float(log.times[history - 1]), history, history + horizon.size))
    return cuts


def monthly_cut_times(logs: Mapping[str, UserLog], horizon: Horizon) -> list[float]:
    """Cuts one horizon apart, back from the log's end so the latest horizon fits in it."""
    start = min(float(log.times[0]) for log in logs.values())
    end = max(float(log.times[-1]) for log in logs.values())
    step = horizon.size * DAY_S
    times, t = [], np.floor((end - step) / DAY_S) * DAY_S
    while t - step >= start:
        times.append(float(t))
        t -= step
    return sorted(times)


def build_cases(logs: Mapping[str, UserLog], cuts: Sequence[Cut], level: LevelIndex, log: LevelLog,
                horizon: Horizon, window_size: int) -> tuple[list[Case], list[Cut]]:
    """The cases of ``cuts`` at ``level`` (a cut whose truth has no node at this level is dropped)."""
    position, size = level.position, len(level)
    populations: dict[float, Population] = {}
    cases, kept = [], []
    for cut in cuts:
        user_log = logs[cut.user]
        truth = np.zeros(size)
        for nodes in user_log.nodes[cut.history:cut.future]:
            for node in nodes:
                if node in position:
                    truth[position[node]] += 1
        if not truth.any():
            continue
        population = populations.get(cut.as_of)
        if population is None:
            population = populations[cut.as_of] = Population.at(log, size, cut.as_of, horizon.population_window_s)
        view = view_from_events(cut.user, user_log.events(cut.history), cut.as_of, window_size)
        cases.append(Case(user_vectors(view, level, horizon), population, truth / truth.sum()))
        kept.append(cut)
    return cases, kept
