"""One user's interest state in plain Python: long-term nodes, short-term window, sessions.

Everything is a commutative fold over events, so the same events in any order give the
same state (out-of-order events are exact, not approximated), and one event costs O(1)
plus O(log sessions):

- long-term strength ``sum(w * 2**(-(t_now - t)/half_life))`` is kept as a mass
  referenced to a fixed time ``ref`` and decayed only when read;
- a trajectory keeps, per time bucket, the bucket's events decayed to the bucket's end;
- short-term interests come from the latest N events by time, decayed when read;
- sessions are the groups of events whose gaps are at most ``session_gap_s``.
"""

from __future__ import annotations

import bisect
import hashlib
import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from memory.edits import EditState, MemoryEdit
from memory.settings import MemorySettings
from memory.taxonomy import Chain

_MAX_EXPONENT = 512.0  # rebase the reference time before 2**exponent can overflow


def note_signal(disliked: set[str], event: WindowEvent) -> None:
    """The latest signal wins: a dislike marks the item, a later positive event clears it."""
    if event.weight < 0:
        disliked.add(event.item)
    elif event.weight > 0:
        disliked.discard(event.item)


class WindowEvent(NamedTuple):
    """An applied event as the short-term window and the sessions keep it (sorted by time, id)."""

    ts: float
    event_id: str
    item: str
    action: str
    value: float | None
    weight: float


@dataclass(frozen=True)
class MemoryMath:
    """The constants of the fold, taken from the settings."""

    long_half_life_s: float
    short_half_life_s: float
    short_half_life_events: float
    bucket_s: float
    session_gap_s: float
    window_size: int
    session_items: int

    @classmethod
    def from_settings(cls, settings: MemorySettings) -> MemoryMath:
        return cls(
            settings.long_term_half_life_s,
            settings.short_term_half_life_s,
            settings.short_term_half_life_events,
            settings.trajectory_bucket_s,
            settings.session_gap_s,
            settings.short_term_window_events,
            settings.session_items_kept,
        )


class _Factors(NamedTuple):
    """Per-event constants shared by every node the event touches (computed once per event)."""

    mass: float  # 2**((t - ref) / half_life)
    bucket: int
    in_bucket: float  # 2**((t - bucket_end) / half_life)

    @classmethod
    def of(cls, ts: float, ref: float, math_: MemoryMath) -> _Factors:
        bucket = math.floor(ts / math_.bucket_s)
        bucket_end = (bucket + 1) * math_.bucket_s
        half_life = math_.long_half_life_s
        return cls(2.0 ** ((ts - ref) / half_life), bucket, 2.0 ** ((ts - bucket_end) / half_life))


@dataclass
class NodeStats:
    """Long-term statistics of one interest node for one user."""

    mass: float = 0.0  # sum of w * 2**((t - ref) / half_life)
    first: float = math.inf
    last: float = -math.inf
    events: int = 0
    negative: int = 0
    buckets: dict[int, float] = field(default_factory=dict)  # bucket -> sum of w * 2**((t - bucket_end) / half_life)

    def add(self, ts: float, weight: float, factors: _Factors) -> None:
        self.mass += weight * factors.mass
        self.buckets[factors.bucket] = self.buckets.get(factors.bucket, 0.0) + weight * factors.in_bucket
        if ts < self.first:
            self.first = ts
        if ts > self.last:
            self.last = ts
        self.events += 1
        self.negative += weight < 0

    def strength(self, as_of: float, ref: float, half_life: float) -> float:
        return self.mass * 2.0 ** ((ref - as_of) / half_life)

    def trajectory(self, as_of: float, math_: MemoryMath, points: int) -> list[tuple[float, float]]:
        """(bucket start, strength at the bucket's end or at ``as_of``) for the latest ``points`` buckets."""
        if not self.buckets:
            return []
        half_life, width = math_.long_half_life_s, math_.bucket_s
        last = math.floor(as_of / width)
        first_shown = max(min(self.buckets), last - points + 1)
        step = 2.0 ** (-width / half_life)
        # strength at the end of the bucket before the first one shown, from all older buckets at once
        running = sum(
            mass * step ** (first_shown - 1 - bucket) for bucket, mass in self.buckets.items() if bucket < first_shown
        )
        series = []
        for bucket in range(first_shown, last + 1):
            running = running * step + self.buckets.get(bucket, 0.0)
            series.append((bucket * width, running))
        start, value = series[-1]
        series[-1] = (start, value * 2.0 ** (((last + 1) * width - as_of) / half_life))  # the current bucket, at as_of
        return series


@dataclass
class TopicStats(NodeStats):
    """A topic also keeps the positive-weighted sum of its items' vectors (its interest vector)."""

    vector: np.ndarray = field(default_factory=lambda: np.zeros(0))


@dataclass
class Session:
    """A window of activity: events whose gaps are at most the session gap."""

    start: float
    end: float
    events: int
    weight: float
    vector: np.ndarray  # sum of the items' vectors
    recent: list[WindowEvent]  # latest events, at most `session_items`

    @property
    def key(self) -> str:
        return f"s:{int(self.start)}"

    def add(self, event: WindowEvent, vector: np.ndarray, keep: int) -> None:
        self.start, self.end = min(self.start, event.ts), max(self.end, event.ts)
        self.events += 1
        self.weight += event.weight
        self.vector = self.vector + vector
        _insert_latest(self.recent, event, keep)

    def absorb(self, other: Session, keep: int) -> None:
        self.start, self.end = min(self.start, other.start), max(self.end, other.end)
        self.events += other.events
        self.weight += other.weight
        self.vector = self.vector + other.vector
        self.recent = sorted(self.recent + other.recent)[-keep:]


@dataclass
class UserMemory:
    """Everything derived from one user's events; see the module docstring for the maths."""

    user: str
    ref: float
    dimension: int
    topics: dict[str, TopicStats] = field(default_factory=dict)
    subtopics: dict[str, NodeStats] = field(default_factory=dict)  # every node below a topic, at any depth
    window: list[WindowEvent] = field(default_factory=list)
    sessions: list[Session] = field(default_factory=list)
    events: int = 0
    saved_events: int = 0  # how many of the events the stored derived rows include (the checkpoint)
    log_seq: int = 0  # highest position in the user's event log folded in (next event: log_seq + 1)
    event_hash: int = 0  # XOR of the applied event ids' 64-bit hashes: order-free identity of the history
    first: float = math.inf
    last: float = -math.inf
    changed_topics: set[str] = field(default_factory=set)
    changed_sessions: dict[int, Session] = field(default_factory=dict)
    removed_sessions: set[str] = field(default_factory=set)
    event_ids: set[str] = field(default_factory=set)  # every applied event id: re-sent ids are skipped
    seen: set[str] = field(default_factory=set)  # every item the user interacted with
    disliked: set[str] = field(default_factory=set)  # items whose latest signal was negative
    edits: EditState = field(default_factory=EditState)  # what the person changed (memory.edits)

    @property
    def version(self) -> str:
        """Changes with every applied event; equal for the same set of events in any order."""
        return f"{self.events}-{self.event_hash:016x}"

    def apply(self, event: WindowEvent, pairs: tuple[Chain, ...], vector: np.ndarray, math_: MemoryMath) -> None:
        """Fold one new (never seen) event into every level (as the edits in force say it counts)."""
        self._count(event)
        if self.edits.excluded(event.event_id):  # "that was for my kids": logged and seen, shapes nothing
            return
        self._keep_reference_near(event.ts, math_)
        factors = _Factors.of(event.ts, self.ref, math_)
        share = event.weight / len(pairs)
        per_topic: dict[str, float] = {}
        per_node: dict[str, float] = {}  # a node two paths share counts the event once, with both shares
        for chain in pairs:  # every level of the path below the topic is a node of its own
            topic, *below = chain
            part = share * self.edits.chain_factor(event.ts, chain)
            per_topic[topic] = per_topic.get(topic, 0.0) + part
            for node in below:
                per_node[node] = per_node.get(node, 0.0) + part
        for node, weight in per_node.items():
            sub_stats = self.subtopics.get(node)
            if sub_stats is None:
                sub_stats = self.subtopics[node] = NodeStats()
            sub_stats.add(event.ts, weight, factors)
        for topic, weight in per_topic.items():
            stats = self.topics.get(topic)
            if stats is None:
                stats = self.topics[topic] = TopicStats(vector=np.zeros(self.dimension))
            stats.add(event.ts, weight, factors)
            if weight > 0:
                stats.vector += weight * vector
            self.changed_topics.add(topic)
        _insert_latest(self.window, event, math_.window_size)
        self._add_to_session(event, vector, math_)

    def _count(self, event: WindowEvent) -> None:
        self.events += 1
        self.event_hash ^= event_hash(event.event_id)
        self.event_ids.add(event.event_id)
        self.seen.add(event.item)
        note_signal(self.disliked, event)
        self.first, self.last = min(self.first, event.ts), max(self.last, event.ts)

    def note_edit(self, edit: MemoryEdit) -> None:
        """Take an edit into the version and the edits in force; the caller refolds the events when it
        changes how past events count (memory.replay)."""
        self.event_hash ^= event_hash(edit.id)
        self.edits = self.edits.with_edit(edit)

    def long_term(self, as_of: float, half_life: float) -> tuple[dict[str, float], dict[str, float]]:
        """Strengths at ``as_of`` of (topics, subtopics)."""
        topics = {node: stats.strength(as_of, self.ref, half_life) for node, stats in self.topics.items()}
        subtopics = {node: stats.strength(as_of, self.ref, half_life) for node, stats in self.subtopics.items()}
        return topics, subtopics

    def short_term(self, as_of: float, pairs_of: dict[str, tuple[Chain, ...]], math_: MemoryMath) -> dict[str, float]:
        """Short-term score of every node touched by the window, decayed in time and in events."""
        scores: dict[str, float] = {}
        for rank, event in enumerate(reversed(self.window)):
            decay = recency(event, rank, as_of, math_)
            pairs = pairs_of.get(event.item, ())
            for chain in pairs:
                part = event.weight * decay / len(pairs) * self.edits.chain_factor(event.ts, chain, short=True)
                for node in chain:
                    scores[node] = scores.get(node, 0.0) + part
        return scores

    @property
    def unsaved(self) -> int:
        """Events applied since the derived rows were last written."""
        return self.events - self.saved_events

    def mark_saved(self) -> None:
        self.saved_events = self.events
        self.changed_topics.clear()
        self.changed_sessions.clear()
        self.removed_sessions.clear()

    def _add_to_session(self, event: WindowEvent, vector: np.ndarray, math_: MemoryMath) -> None:
        gap, keep = math_.session_gap_s, math_.session_items
        index = bisect.bisect_right(self.sessions, event.ts, key=lambda session: session.start)
        left = self.sessions[index - 1] if index > 0 and event.ts <= self.sessions[index - 1].end + gap else None
        right = (
            self.sessions[index]
            if index < len(self.sessions) and self.sessions[index].start - event.ts <= gap
            else None
        )
        if left is None and right is None:
            session = Session(event.ts, event.ts, 0, 0.0, np.zeros(self.dimension), [])
            self.sessions.insert(index, session)
        elif left is not None:
            session = left
            if right is not None:  # the event bridges two sessions: they become one
                left.absorb(right, keep)
                self.sessions.pop(index)
                self._forget(right)
        else:
            session = right
            if event.ts < right.start:  # the session starts earlier now: its id changes
                self.removed_sessions.add(right.key)
        session.add(event, vector, keep)
        self.changed_sessions[id(session)] = session

    def _forget(self, session: Session) -> None:
        self.removed_sessions.add(session.key)
        self.changed_sessions.pop(id(session), None)

    def _keep_reference_near(self, ts: float, math_: MemoryMath) -> None:
        if (ts - self.ref) / math_.long_half_life_s <= _MAX_EXPONENT:
            return
        scale = 2.0 ** ((self.ref - ts) / math_.long_half_life_s)
        for stats in [*self.topics.values(), *self.subtopics.values()]:
            stats.mass *= scale
        self.ref = ts
        self.changed_topics.update(self.topics)


def recency(event: WindowEvent, rank: int, as_of: float, math_: MemoryMath) -> float:
    """Short-term weight of a window event: halves per half-life of time and per half-life of events."""
    age = max(as_of - event.ts, 0.0)
    return 2.0 ** (-age / math_.short_half_life_s - rank / math_.short_half_life_events)


def event_hash(event_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=8).digest(), "big")


def _insert_latest(events: list[WindowEvent], event: WindowEvent, keep: int) -> None:
    """Insert keeping time order, then drop the oldest beyond ``keep``."""
    bisect.insort(events, event)
    if len(events) > keep:
        del events[0]
