"""Per-node features of one user at one moment, and the simple mixes the baselines are.

Everything is a share of the user's (or everyone's) events at one level of the tree:
the long-run mix, the last horizon-long window (persistence), a recency-weighted mix, how
long ago each node was last touched, what everyone did in the latest window and how that
moved from the window before (the season), and what people who led with the user's current
leader went on to do (transitions). The forecast model weighs their logarithms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agent.forecast.horizon import DAY_S, Horizon
from agent.forecast.population import LevelIndex, Population
from memory.history_view import HistoryView

EPS = 1e-3
COMPONENTS = ("long_run", "recent", "decayed", "transition", "everyone_now", "everyone", "long_run_in_season")
ADJUSTMENTS = ("in_recent", "seen", "log_days_since", "everyone_drift")
DATA = ("recent_events", "events")


@dataclass(frozen=True)
class UserVectors:
    """One user's shares over a level's nodes (zeros where the user has no events)."""

    long_run: np.ndarray
    recent: np.ndarray  # the last horizon-long window: what persistence repeats
    decayed: np.ndarray
    days_since: np.ndarray  # inf where never touched
    recent_events: int
    events: int

    @property
    def leader(self) -> int | None:
        """The node that led the recent window (else the whole history); ties: the first id."""
        for mix in (self.recent, self.long_run):
            if mix.any():
                return int(np.argmax(mix))
        return None


def user_vectors(view: HistoryView, level: LevelIndex, horizon: Horizon) -> UserVectors:
    position = level.position
    size = len(level)
    counts, days = np.zeros(size), np.full(size, np.inf)
    for node, count in view.counts.items():
        i = position.get(node)
        if i is not None and count > 0:
            counts[i] = count
            days[i] = max(view.as_of - view.last_seen[node], 0.0) / DAY_S
    window = list(view.window)
    if horizon.unit == "days":
        recent_events = [nodes for ts, nodes in window if ts > view.as_of - horizon.size * DAY_S]
        ages = np.array([(view.as_of - ts) / DAY_S for ts, _ in window]) / (horizon.size / 3)
    else:
        recent_events = [nodes for _, nodes in window[-horizon.size:]]
        ages = np.arange(len(window))[::-1] / (horizon.size / 3)
    recent, decayed = np.zeros(size), np.zeros(size)
    for nodes in recent_events:
        _add(recent, nodes, position, 1.0)
    for (_, nodes), weight in zip(window, 2.0 ** -ages, strict=True):
        _add(decayed, nodes, position, weight)
    return UserVectors(_share(counts), _share(recent), _share(decayed), days, len(recent_events), view.events)


def components(user: UserVectors, population: Population, transition: np.ndarray) -> np.ndarray:
    """(nodes, COMPONENTS): mixes the forecast blends; an empty user mix falls back to everyone's."""
    season = population.recent / population.long_run
    long_run = user.long_run if user.long_run.any() else population.long_run
    in_season = long_run * season
    recent = user.recent if user.recent.any() else long_run
    decayed = user.decayed if user.decayed.any() else long_run
    columns = (long_run, recent, decayed,
               transition, population.recent, population.long_run, in_season / in_season.sum())
    return np.stack(columns, axis=1)


def adjustments(user: UserVectors, population: Population) -> np.ndarray:
    """(nodes, ADJUSTMENTS): multiplicative corrections (log-linear) on top of the blend."""
    seen = np.isfinite(user.days_since)
    return np.stack([(user.recent > 0).astype(float), seen.astype(float),
                     np.where(seen, np.log1p(np.where(seen, user.days_since, 0.0)) / 3.0, 0.0),
                     np.log(population.recent) - np.log(population.previous)], axis=1)


def data_amount(user: UserVectors) -> np.ndarray:
    """How much the user's own mixes can be trusted: (log recent events, log all events), scaled to ~1."""
    return np.array([np.log1p(user.recent_events) / 3.0, np.log1p(user.events) / 5.0])


def smoothed(mix: np.ndarray, prior: np.ndarray, weight: float) -> np.ndarray:
    """(1 - weight) * mix + weight * prior; an empty mix is the prior."""
    if not mix.any():
        return prior
    return (1.0 - weight) * mix + weight * prior


def trend_mix(user: UserVectors) -> np.ndarray:
    """The recent window pushed on along its move away from the long-run mix: 2 * recent - long-run, >= 0."""
    if not user.recent.any():
        return user.long_run
    return _share(np.clip(2.0 * user.recent - user.long_run, 0.0, None))


def _add(vector: np.ndarray, nodes, position: dict[str, int], weight: float) -> None:
    for node in nodes:
        i = position.get(node)
        if i is not None:
            vector[i] += weight


def _share(values: np.ndarray) -> np.ndarray:
    total = values.sum()
    return values / total if total > 0 else np.zeros_like(values)
