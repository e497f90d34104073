"""The structured digest of a user's memory, and the deterministic next-shift estimate.

Trend of a node = its share of recent (short-term) interest minus its share of long-run
(long-term) interest, at the same level of the tree. It is the difference of a fast and
a slow moving average, the usual slope estimate: > 0 rising, < 0 fading, in share points
(-1..1). It works for a user whose history spans years and for one who rated 200 films
in an evening. The shift estimate follows the trends; it is the baseline an LLM's
prediction must beat and the answer when the LLM fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from memory.digest_models import (
    InterestNode,
    MemoryDigest,
    RecentItem,
    SessionDigest,
    ShiftEstimate,
    ShortTermInterest,
    TrendingNode,
    utc,
)
from memory.forecast import forecast
from memory.interests import MemoryMath, Session, UserMemory, WindowEvent
from memory.taxonomy import Chain, node_depth

TOPICS_SHOWN = 8
CHILDREN_SHOWN = 3
SHORT_TERM_SHOWN = 6
TRENDING_SHOWN = 5
SESSIONS_SHOWN = 3
ITEMS_PER_SESSION = 5
EVIDENCE_SHOWN = 5
RECENT_MIN_SCORE = 0.01  # below this (a like ~7 half-lives ago) a node is no longer "recent"


@dataclass(frozen=True)
class NodeValues:
    """Strength, shares and trend of every node of one user at one moment."""

    strength: dict[str, float]
    share: dict[str, float]
    short: dict[str, float]
    short_share: dict[str, float]
    topics: dict[str, float]
    subtopics: dict[str, float]

    def trend(self, node: str) -> float:
        return self.short_share[node] - self.share[node]

    def level(self, node: str) -> Literal["topic", "subtopic"]:
        return "topic" if node in self.topics else "subtopic"


class DigestBuilder:
    """Builds a digest from a user's memory plus what the catalog knows (labels, titles, pairs)."""

    def __init__(self, math_: MemoryMath, trend_threshold: float, trajectory_points: int):
        self.math = math_
        self.threshold = trend_threshold
        self.points = trajectory_points

    def values(self, memory: UserMemory, as_of: float, pairs_of: dict[str, tuple[Chain, ...]]) -> NodeValues:
        topics, subtopics = memory.long_term(as_of, self.math.long_half_life_s)
        short = {n: v for n, v in memory.short_term(as_of, pairs_of, self.math).items() if abs(v) >= RECENT_MIN_SCORE}
        return NodeValues(
            strength={**topics, **subtopics},
            share={**_shares(topics), **_shares_by_depth(subtopics)},
            short=short,
            short_share={
                **_shares({node: short.get(node, 0.0) for node in topics}),
                **_shares_by_depth({node: short.get(node, 0.0) for node in subtopics}),
            },
            topics=topics,
            subtopics=subtopics,
        )

    def node(
        self,
        memory: UserMemory,
        values: NodeValues,
        node_id: str,
        as_of: float,
        labels: dict[str, str],
        children: list[InterestNode] | None = None,
        points: int | None = None,
    ) -> InterestNode:
        stats = memory.topics.get(node_id) or memory.subtopics[node_id]
        trajectory = stats.trajectory(as_of, self.math, points or self.points)
        return InterestNode(
            id=node_id,
            label=labels.get(node_id, node_id),
            level=values.level(node_id),
            depth=node_depth(node_id),
            parent=node_id.rsplit("/", 1)[0] if "/" in node_id else None,
            strength=round(values.strength[node_id], 6),
            share=round(values.share[node_id], 6),
            short_share=round(values.short_share[node_id], 6),
            trend=round(values.trend(node_id), 6),
            first_seen=utc(stats.first),
            last_seen=utc(stats.last),
            events=stats.events,
            negative_events=stats.negative,
            # plain dicts with epoch seconds: pydantic builds the hundreds of points per digest in one go
            trajectory=[{"start": start, "strength": round(value, 6)} for start, value in trajectory],
            children=children or [],
        )

    def build(
        self,
        memory: UserMemory,
        as_of: float,
        labels: dict[str, str],
        titles: dict[str, str],
        pairs_of: dict[str, tuple[Chain, ...]],
    ) -> MemoryDigest:
        values = self.values(memory, as_of, pairs_of)
        long_term = []
        for topic in _ranked(values.topics)[:TOPICS_SHOWN]:
            long_term.append(self.node(memory, values, topic, as_of, labels, self._children(memory, values, topic,
                                                                                             as_of, labels)))
        positive_short = {node: score for node, score in values.short.items() if score > 0 and node in values.strength}
        short_term = [
            ShortTermInterest(
                id=node,
                label=labels.get(node, node),
                level=values.level(node),
                depth=node_depth(node),
                score=round(values.short[node], 6),
                share=round(values.short_share[node], 6),
            )
            for node in _ranked(positive_short)[:SHORT_TERM_SHOWN]
        ]
        trends = {node: values.trend(node) for node in values.strength}
        rising = [n for n in _ranked(trends) if trends[n] > self.threshold and values.short.get(n, 0.0) > 0]
        fading = [
            n
            for n in _ranked({n: -t for n, t in trends.items()})
            if trends[n] < -self.threshold and values.strength[n] > 0
        ]
        sessions = [self._session(session, titles) for session in reversed(memory.sessions[-SESSIONS_SHOWN:])]
        shift = self._shift(memory, values, labels, pairs_of)
        cited = [item.event_id for session in sessions for item in session.items] + shift.evidence
        return MemoryDigest(
            user=memory.user,
            version=memory.version,
            as_of=utc(as_of),
            events=memory.events,
            first_seen=utc(memory.first),
            last_seen=utc(memory.last),
            long_term=long_term,
            short_term=short_term,
            rising=[self._trending(node, values, labels) for node in rising[:TRENDING_SHOWN]],
            fading=[self._trending(node, values, labels) for node in fading[:TRENDING_SHOWN]],
            sessions=sessions,
            shift=shift,
            forecast=self._forecast(memory, labels, pairs_of),
            faded_by_user=[labels.get(node, node) for node in memory.edits.faded_nodes],
            node_ids=sorted(values.strength),
            event_ids=list(dict.fromkeys(cited)),
        )

    def _children(self, memory: UserMemory, values: NodeValues, parent: str, as_of: float,
                  labels: dict[str, str]) -> list[InterestNode]:
        """The strongest direct children of ``parent``, each with its own (every level of a path)."""
        prefix, depth = parent + "/", node_depth(parent) + 1
        below = {node: v for node, v in values.subtopics.items() if node.startswith(prefix) and node_depth(node) == depth}
        return [self.node(memory, values, child, as_of, labels, self._children(memory, values, child, as_of, labels))
                for child in _ranked(below)[:CHILDREN_SHOWN]]

    @staticmethod
    def _forecast(memory: UserMemory, labels: dict[str, str], pairs_of: dict[str, tuple[Chain, ...]]) -> list[str]:
        """Event counts of the whole history and topics of the window's events feed memory.forecast."""
        counts = {topic: stats.events for topic, stats in memory.topics.items()}
        recent = [tuple(chain[0] for chain in pairs_of.get(event.item, ())) for event in memory.window]
        return forecast(counts, recent, known=labels)

    @staticmethod
    def _trending(node: str, values: NodeValues, labels: dict[str, str]) -> TrendingNode:
        return TrendingNode(
            id=node, label=labels.get(node, node), level=values.level(node), depth=node_depth(node),
            trend=round(values.trend(node), 6),
        )

    @staticmethod
    def _session(session: Session, titles: dict[str, str]) -> SessionDigest:
        items = [_recent_item(event, titles) for event in reversed(session.recent[-ITEMS_PER_SESSION:])]
        return SessionDigest(
            id=session.key, start=utc(session.start), end=utc(session.end), events=session.events, items=items
        )

    def _shift(
        self, memory: UserMemory, values: NodeValues, labels: dict[str, str], pairs_of: dict[str, tuple[Chain, ...]]
    ) -> ShiftEstimate:
        trend = {topic: values.trend(topic) for topic in values.topics}
        rising = [t for t in _ranked(trend) if trend[t] > self.threshold and values.short_share[t] > 0]
        if not rising:
            leader = next(iter(_ranked(values.topics)), None)
            led_by = f" led by {labels.get(leader, leader)}" if leader else ""
            return ShiftEstimate(
                from_node=None,
                from_label=None,
                to_node=None,
                to_label=None,
                to_subtopic=None,
                confidence=0.0,
                rationale=f"No interest is rising; recent activity matches the long-run mix{led_by}.",
                evidence=[],
            )
        target = rising[0]
        fading = [
            t
            for t in _ranked({t: -v for t, v in trend.items()})
            if t != target and trend[t] < 0 and values.strength[t] > 0
        ]
        source = fading[0] if fading else next((t for t in _ranked(values.topics) if t != target), None)
        rising_subs = {
            s: values.trend(s) for s in values.subtopics if s.startswith(target + "/") and values.trend(s) > 0
        }
        rationale = (
            f"{labels.get(target, target)} went from {values.share[target]:.0%} of long-run interest to "
            f"{values.short_share[target]:.0%} of recent activity (trend {trend[target]:+.2f})"
        )
        if source is not None:
            rationale += (
                f"; {labels.get(source, source)} went from {values.share[source]:.0%} to "
                f"{values.short_share[source]:.0%} (trend {trend[source]:+.2f})"
            )
        evidence = [
            event.event_id
            for event in reversed(memory.window)
            if event.weight > 0 and any(chain[0] == target for chain in pairs_of.get(event.item, ()))
        ]
        source_trend = min(trend[source], 0.0) if source is not None else 0.0
        return ShiftEstimate(
            from_node=source,
            from_label=labels.get(source, source) if source else None,
            to_node=target,
            to_label=labels.get(target, target),
            to_subtopic=_ranked(rising_subs)[0] if rising_subs else None,
            confidence=round(min(1.0, trend[target] - source_trend), 4),
            rationale=rationale + ".",
            evidence=evidence[:EVIDENCE_SHOWN],
        )


def _recent_item(event: WindowEvent, titles: dict[str, str]) -> RecentItem:
    return RecentItem(
        event_id=event.event_id,
        item_id=event.item,
        title=titles.get(event.item, event.item),
        action=event.action,
        value=event.value,
        weight=event.weight,
        timestamp=utc(event.ts),
    )


def _shares(values: dict[str, float]) -> dict[str, float]:
    total = sum(value for value in values.values() if value > 0)
    return {node: (max(value, 0.0) / total if total > 0 else 0.0) for node, value in values.items()}


def _shares_by_depth(values: dict[str, float]) -> dict[str, float]:
    """Shares among the nodes of one depth: the second levels sum to 1, so do the third levels."""
    depths: dict[int, dict[str, float]] = {}
    for node, value in values.items():
        depths.setdefault(node_depth(node), {})[node] = value
    return {node: share for level in depths.values() for node, share in _shares(level).items()}


def _ranked(values: dict[str, float]) -> list[str]:
    """Keys by value, largest first; ties broken by id so the order never depends on history order."""
    return sorted(values, key=lambda node: (-round(values[node], 9), node))
