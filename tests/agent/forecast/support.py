"""Pieces of the forecast tests: synthetic logs with a known answer, and one torch thread while fitting.

The forecast's fits are tiny (a few thousand cases, a handful of nodes): on a shared machine torch's
default thread pool makes them ten times slower, so every forecast test module fits on one thread.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from agent.forecast.horizon import DAY_S
from memory.history_view import Nodes

START = 1_700_000_000.0  # 2023-11-14: the first day of every synthetic log
MONTH_DAYS = 30
Row = tuple[str, str, float]


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread() -> Iterator[None]:
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def topic(k: int) -> str:
    return f"t:topic{k}"


def item(k: int, j: int) -> str:
    """The j-th item of topic k; it sits under the topic and one of its two children."""
    return f"i{k}-{j}"


def two_level_nodes(topics: int, items_per_topic: int = 4) -> dict[str, Nodes]:
    """Items placed under topic k and child k/s(j % 2): a two-level tree, every node a named path."""
    return {item(k, j): frozenset({topic(k), f"{topic(k)}/s{j % 2}"})
            for k in range(topics) for j in range(items_per_topic)}


def day(days: float) -> float:
    return START + days * DAY_S


def monthly_rows(user: str, mixes: list[np.ndarray], per_month: float, rng: np.random.Generator,
                 items_per_topic: int = 4) -> list[Row]:
    """Month m: Poisson(per_month) events at uniform times inside it, topics drawn from ``mixes[m]``."""
    rows = []
    for month, mix in enumerate(mixes):
        count = int(rng.poisson(per_month))
        times = np.sort(rng.uniform(month * MONTH_DAYS, (month + 1) * MONTH_DAYS, count))
        topics = rng.choice(len(mix), count, p=mix)
        rows += [(user, item(int(k), int(rng.integers(items_per_topic))), day(float(t)))
                 for k, t in zip(topics, times, strict=True)]
    return rows


def stable_log(users: int, topics: int, months: int, per_month: float, seed: int,
               alpha: float = 0.7) -> tuple[list[Row], dict[str, np.ndarray]]:
    """Each user keeps one personal topic mix (Dirichlet(alpha), seeded) for the whole log."""
    rng = np.random.default_rng(seed)
    rows, mixes = [], {}
    for u in range(users):
        user = f"u{u:03d}"
        mixes[user] = rng.dirichlet(np.full(topics, alpha))
        rows += monthly_rows(user, [mixes[user]] * months, per_month, rng)
    return rows, mixes


def switching_log(users: int, topics: int, months: int, per_month: float, seed: int,
                  purity: float = 0.9) -> tuple[list[Row], dict[str, tuple[int, int, int]]]:
    """Each user spends ``purity`` of their events on an old topic, then from a known month on a new one.

    Returns the rows and, per user, (old topic, new topic, the month the switch happens)."""
    rng = np.random.default_rng(seed)
    rows, switches = [], {}
    for u in range(users):
        user = f"u{u:03d}"
        old, new = (int(k) for k in rng.choice(topics, 2, replace=False))
        month = int(rng.integers(2, months - 1))
        switches[user] = (old, new, month)
        mixes = []
        for m in range(months):
            mix = np.full(topics, (1 - purity) / (topics - 1))
            mix[old if m < month else new] = purity
            mixes.append(mix)
        rows += monthly_rows(user, mixes, per_month, rng)
    return rows, switches
