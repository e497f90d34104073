"""The summary the profiler would have sent at an earlier moment, rebuilt from a raw log.

Events before a cut are folded, in time order, into a fresh in-process ``UserMemory`` (the
same fold the memory runs on ingest) and rendered by the memory's own digest and summary
code. Nothing at or after the cut is ever applied, so an example cannot read its answer.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from memory.digest import DigestBuilder
from memory.interests import MemoryMath, UserMemory, WindowEvent
from memory.settings import MemorySettings
from memory.summary import render_summary
from memory.taxonomy import Chain

ZERO = np.zeros(1)  # the digest reads counts and times, never the taste vectors


@dataclass(frozen=True)
class ReplayContext:
    """Where each item sits in the tree, its title, each node's label, and the memory's constants."""

    pairs_of: Mapping[str, tuple[Chain, ...]]
    titles: Mapping[str, str]
    labels: Mapping[str, str]
    settings: MemorySettings
    token_budget: int

    def builder(self) -> tuple[MemoryMath, DigestBuilder]:
        math_ = MemoryMath.from_settings(self.settings)
        return math_, DigestBuilder(math_, self.settings.trend_threshold, self.settings.trajectory_points)


def summaries_at(context: ReplayContext, user: str, times: Sequence[float], items: Sequence[str],
                 weights: Sequence[float], cuts: Sequence[tuple[int, float]]) -> Iterator[str]:
    """The summary text at each (history length, as_of) of ``cuts`` (ascending), from events ``[:history]``."""
    math_, digests = context.builder()
    memory = UserMemory(user, float(times[0]) if len(times) else 0.0, 1)
    applied = 0
    for history, as_of in cuts:
        if history < applied:
            raise ValueError("cuts must come in ascending order of history length")
        for position in range(applied, history):
            event = WindowEvent(float(times[position]), f"{user}-{position}", items[position], "replay", None,
                                float(weights[position]))
            memory.apply(event, context.pairs_of[items[position]], ZERO, math_)
        applied = history
        if memory.last > as_of:
            raise ValueError(f"an event at {memory.last} is after the cut {as_of}: the example would read its answer")
        pairs = {item: context.pairs_of[item] for item in _shown_items(memory)}
        digest = digests.build(memory, as_of, dict(context.labels), dict(context.titles), pairs)
        yield render_summary(digest, context.token_budget).text


def _shown_items(memory: UserMemory) -> set[str]:
    items = {event.item for event in memory.window}
    items.update(event.item for session in memory.sessions for event in session.recent)
    return items


def context_from_items(items: Mapping[str, object], settings: MemorySettings, token_budget: int,
                       max_depth: int | None = None) -> ReplayContext:
    """A context from catalog items' own category paths (a raw dataset, no Chroma): every path becomes a chain
    of node ids (cut at ``max_depth``), each node labelled with its path name."""
    from memory.taxonomy import full_paths, path_chain

    pairs_of, labels = {}, {}
    for item_id, item in items.items():
        chains = []
        for path in full_paths(item):
            path = path if max_depth is None else path[: max_depth + 1]
            chain = path_chain(path)
            labels.update(zip(chain, path, strict=True))
            chains.append(chain)
        pairs_of[item_id] = tuple(dict.fromkeys(chains))
    return ReplayContext(pairs_of, {item_id: item.title for item_id, item in items.items()}, labels, settings,
                         token_budget)
