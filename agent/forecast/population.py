"""What everyone does: each level's node mix over the whole log, in the latest window and the one
before it (the season's drift), read from a log cut at time t and nothing after it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from memory.taxonomy import node_depth


@dataclass(frozen=True)
class LevelIndex:
    """The catalog's nodes of one depth, in id order (a forecast's support)."""

    depth: int
    nodes: tuple[str, ...]

    @classmethod
    def of(cls, all_nodes: Sequence[str], depth: int) -> LevelIndex:
        return cls(depth, tuple(sorted({node for node in all_nodes if node_depth(node) == depth})))

    @property
    def position(self) -> dict[str, int]:
        return {node: i for i, node in enumerate(self.nodes)}

    def __len__(self) -> int:
        return len(self.nodes)


@dataclass(frozen=True)
class LevelLog:
    """Every event of the log at one level, one row per (event, node), sorted by time."""

    ts: np.ndarray  # float64
    node: np.ndarray  # int32 positions in the level's index

    @classmethod
    def build(cls, rows: Sequence[tuple[float, Sequence[int]]]) -> LevelLog:
        times = np.array([ts for ts, nodes in rows for _ in nodes], dtype=np.float64)
        nodes = np.array([n for _, ns in rows for n in ns], dtype=np.int32)
        order = np.argsort(times, kind="stable")
        return cls(times[order], nodes[order])


@dataclass(frozen=True)
class Population:
    """Shares of each node (summing to 1, with a floor so no node is impossible)."""

    long_run: np.ndarray
    recent: np.ndarray
    previous: np.ndarray

    @classmethod
    def at(cls, log: LevelLog, size: int, as_of: float, window_s: float) -> Population:
        """Everyone's mix before ``as_of``: all of it, the last window, the window before that."""
        end = int(np.searchsorted(log.ts, as_of, side="left"))
        start = int(np.searchsorted(log.ts, as_of - window_s, side="left"))
        before = int(np.searchsorted(log.ts, as_of - 2 * window_s, side="left"))
        return cls(_mix(log.node[:end], size), _mix(log.node[start:end], size), _mix(log.node[before:start], size))

    def as_arrays(self) -> dict[str, np.ndarray]:
        return {"long_run": self.long_run, "recent": self.recent, "previous": self.previous}


def _mix(nodes: np.ndarray, size: int) -> np.ndarray:
    """Add-one-half smoothed shares: a node nobody touched in the window keeps a small share."""
    counts = np.bincount(nodes, minlength=size).astype(np.float64) + 0.5
    return counts / counts.sum()
