"""A shown forecast scored against what the user then did in its horizon.

Per claim: did it come true (the node's share of the horizon's events above, for "grow", or
below, for "shrink", its share of the window before). Per claim depth: was the realised leader
among the three nodes the forecast gave the highest lead probability, and the cross-entropy of
the realised mix against the expected shares. Shares count each event once per node of the
level, as the training cases do (agent.forecast.cases).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, Field

from agent.forecast.views import ForecastView, LevelForecast, ShiftClaim
from memory.history_view import Nodes
from memory.taxonomy import node_depth

LEADS_COUNTED = 3  # hit@3, as the shift benchmark scores it
SHARE_FLOOR = 5e-5  # half the 4-decimal rounding step of the stored shares: no node gets probability 0


@dataclass(frozen=True)
class LoggedEvent:
    """One of the user's events: its place in their arrival order, its time, every node of its item."""

    seq: int
    ts: float
    nodes: Nodes


class ScoredClaim(BaseModel):
    id: str
    label: str
    depth: int
    direction: str
    probability: float
    share_now: float
    share_realised: float = Field(description="The node's share of the user's events in the horizon.")
    came_true: bool


class LevelScore(BaseModel):
    depth: int
    events: int = Field(description="Events of the horizon with a node at this depth.")
    leader_label: str | None = Field(description="The node with the largest share in the horizon.")
    lead_hit: bool | None = Field(description="The realised leader was among the forecast's 3 likeliest leaders.")
    cross_entropy: float | None = Field(description="Nats per event of the realised mix against the expected one.")


class ForecastScore(BaseModel):
    events: int = Field(description="The user's events in the forecast's horizon.")
    claims: list[ScoredClaim] = Field(description="Claims at a depth the horizon's events reached.")
    levels: list[LevelScore] = Field(description="One per depth the claims are at.")


def is_due(forecast: ForecastView, events: Sequence[LoggedEvent], now: datetime) -> bool:
    """Days: ``now`` is at or past the horizon's end; events: the user has logged its events."""
    if forecast.horizon.unit == "days":
        return forecast.due_at is not None and now >= forecast.due_at
    return len(horizon_events(forecast, events)) >= forecast.horizon.size


def horizon_events(forecast: ForecastView, events: Sequence[LoggedEvent]) -> list[LoggedEvent]:
    """Days: the events in (made_at, due_at]; events: the first ``size`` logged after the forecast
    (arrival order, which the due rule counts: a replayed log's clock may not move with them)."""
    if forecast.horizon.unit == "days":
        start, end = forecast.made_at.timestamp(), forecast.due_at.timestamp() if forecast.due_at else math.inf
        return sorted((e for e in events if start < e.ts <= end), key=lambda e: (e.ts, e.seq))
    after = sorted((e for e in events if e.seq > forecast.events_at), key=lambda e: e.seq)
    return after[: forecast.horizon.size]


def score(forecast: ForecastView, events: Sequence[LoggedEvent], level_nodes: Mapping[int, Set[str]]) -> ForecastScore:
    """The forecast against ``events`` (the user's whole log); ``level_nodes``: the catalog's nodes by depth."""
    window = horizon_events(forecast, events)
    levels = {level.depth: level for level in forecast.levels}
    claims: list[ScoredClaim] = []
    scores: list[LevelScore] = []
    for depth in sorted({claim.depth for claim in forecast.claims}):
        mix, counted = realised_mix(window, depth)
        scores.append(_level_score(levels.get(depth), depth, mix, counted, level_nodes.get(depth, frozenset())))
        if counted:
            claims += [_scored(claim, mix) for claim in forecast.claims if claim.depth == depth]
    return ForecastScore(events=len(window), claims=claims, levels=scores)


def realised_mix(window: Sequence[LoggedEvent], depth: int) -> tuple[dict[str, float], int]:
    """Each node's share of the window at ``depth``, and how many events had a node there."""
    counts: dict[str, int] = {}
    counted = 0
    for event in window:
        here = [node for node in event.nodes if node_depth(node) == depth]
        counted += bool(here)
        for node in here:
            counts[node] = counts.get(node, 0) + 1
    total = sum(counts.values())
    return {node: count / total for node, count in counts.items()}, counted


def expected_mix(level: LevelForecast, realised: Mapping[str, float], catalog_nodes: Set[str]) -> dict[str, float]:
    """The forecast over every node of the level (the catalog's, plus any realised one it lacks): the
    listed shares, ``other_share`` spread evenly over the unlisted nodes, each floored and renormalised."""
    listed = {node.id: node.share_expected for node in level.nodes}
    unlisted = (set(catalog_nodes) | set(realised)) - set(listed)
    spread = level.other_share / len(unlisted) if unlisted else 0.0
    mix = {node: max(share, SHARE_FLOOR) for node, share in listed.items()}
    mix.update({node: max(spread, SHARE_FLOOR) for node in unlisted})
    total = sum(mix.values())
    return {node: share / total for node, share in mix.items()}


def cross_entropy(level: LevelForecast, realised: Mapping[str, float], catalog_nodes: Set[str]) -> float:
    """-sum q log p over the realised nodes (q: realised shares, p: :func:`expected_mix`)."""
    expected = expected_mix(level, realised, catalog_nodes)
    return -sum(share * math.log(expected[node]) for node, share in realised.items())


def _level_score(level: LevelForecast | None, depth: int, mix: dict[str, float], counted: int,
                 catalog_nodes: Set[str]) -> LevelScore:
    if level is None or not counted:
        return LevelScore(depth=depth, events=counted, leader_label=None, lead_hit=None, cross_entropy=None)
    leader = min(mix, key=lambda node: (-mix[node], node))  # ties: the first node id, as the benchmark
    likeliest = sorted(level.nodes, key=lambda node: (-node.lead_probability, node.id))[:LEADS_COUNTED]
    labels = {node.id: node.label for node in level.nodes}
    return LevelScore(depth=depth, events=counted, leader_label=labels.get(leader), cross_entropy=round(
        cross_entropy(level, mix, catalog_nodes), 4), lead_hit=leader in {node.id for node in likeliest})


def _scored(claim: ShiftClaim, mix: Mapping[str, float]) -> ScoredClaim:
    then = mix.get(claim.id, 0.0)
    came_true = then > claim.share_now if claim.direction == "grow" else then < claim.share_now
    return ScoredClaim(id=claim.id, label=claim.label, depth=claim.depth, direction=claim.direction,
                       probability=claim.probability, share_now=claim.share_now, share_realised=round(then, 4),
                       came_true=came_true)
