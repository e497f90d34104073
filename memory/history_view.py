"""What a forecast made at one moment may read about one user, and nothing after it.

The shipped forecast reads it from the live memory (:func:`history_view`); the shift
benchmark builds the same object from a raw log cut at time t (:func:`view_from_events`),
so the benchmark scores exactly the function the product serves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from memory.edits import FADE_LONG
from memory.interests import UserMemory
from memory.taxonomy import Chain

Nodes = frozenset[str]


@dataclass(frozen=True)
class HistoryView:
    """One user's behaviour before ``as_of`` (epoch seconds), at every level of the tree.

    ``counts``: events per node over the whole history (an event counts once per node; a node the person
    faded counts ``FADE_LONG`` of them, and its chains leave the window's events);
    ``last_seen``: each node's latest event time; ``window``: the latest events (at most the
    memory's short-term window), oldest first, as (time, every node the item sits under).
    """

    user: str
    as_of: float
    counts: Mapping[str, float]
    last_seen: Mapping[str, float]
    window: Sequence[tuple[float, Nodes]]
    events: int


def item_nodes(chains: Iterable[Chain]) -> Nodes:
    """Every node on any of the item's chains (topic, its child, deeper levels)."""
    return frozenset(node for chain in chains for node in chain)


def history_view(memory: UserMemory, pairs_of: Mapping[str, tuple[Chain, ...]], as_of: float) -> HistoryView:
    """The view of a live memory at ``as_of`` (its latest event or later: the memory's counts hold every
    event, so an earlier moment cannot be read from it); ``pairs_of`` maps the window's items to their chains."""
    if as_of < memory.last:
        raise ValueError(f"the memory holds events up to {memory.last}, after {as_of}: a view must not read them")
    counts = {node: stats.events for node, stats in memory.topics.items()}
    counts.update({node: stats.events for node, stats in memory.subtopics.items()})
    last = {node: stats.last for node, stats in memory.topics.items()}
    last.update({node: stats.last for node, stats in memory.subtopics.items()})
    edits = memory.edits
    for faded in edits.faded_nodes:  # "I'm over it": its past counts as the long-term interests count it
        for node in [n for n in counts if n == faded or n.startswith(faded + "/")]:
            counts[node] *= FADE_LONG
    window = [(event.ts, item_nodes(chain for chain in pairs_of.get(event.item, ())
                                    if edits.chain_factor(event.ts, chain, short=True) > 0))
              for event in memory.window]
    return HistoryView(user=memory.user, as_of=as_of, counts=counts, last_seen=last, window=window,
                       events=memory.events)


def view_from_events(user: str, events: Sequence[tuple[float, Nodes]], as_of: float, window_size: int) -> HistoryView:
    """The view from the (time, nodes) events before a cut, in time order; one after ``as_of`` is refused."""
    counts: dict[str, int] = {}
    last: dict[str, float] = {}
    kept = list(events)
    late = [ts for ts, _ in kept if ts > as_of]
    if late:
        raise ValueError(f"an event at {max(late)} is after the forecast time {as_of}: cut the history first")
    for ts, nodes in kept:
        for node in nodes:
            counts[node] = counts.get(node, 0) + 1
            last[node] = ts
    return HistoryView(user=user, as_of=as_of, counts=counts, last_seen=last, window=kept[-window_size:],
                       events=len(kept))
