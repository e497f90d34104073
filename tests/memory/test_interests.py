"""The per-user fold in plain Python: decay, trajectories, sessions, window, order independence."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from memory.interests import MemoryMath, UserMemory, WindowEvent, recency
from memory.settings import MemorySettings

DAY = 86400.0
MATH = MemoryMath.from_settings(
    MemorySettings(
        long_term_half_life_s=10 * DAY,
        short_term_half_life_s=DAY,
        short_term_half_life_events=5,
        trajectory_bucket_s=7 * DAY,
        session_gap_s=3600,
        short_term_window_events=8,
        session_items_kept=3,
    )
)
PAIRS = {
    "c": (("t:comedy", "t:comedy/s1"),),
    "s": (("t:sci-fi", "t:sci-fi/s1"),),
    "x": (("t:comedy", "t:comedy/s2"), ("t:sci-fi", "t:sci-fi/s1")),
}


def apply(memory: UserMemory, ts: float, item: str = "c", weight: float = 1.0, event_id: str | None = None) -> None:
    event = WindowEvent(ts, event_id or f"e{ts}-{item}", item, "like", None, weight)
    memory.apply(event, PAIRS[item], np.ones(4), MATH)


def fresh(ref: float = 0.0) -> UserMemory:
    return UserMemory("u", ref, 4, seen=set())


def test_long_term_strength_halves_every_half_life():
    memory = fresh()
    apply(memory, 0.0)
    topics, _ = memory.long_term(as_of=10 * DAY, half_life=MATH.long_half_life_s)
    assert topics["t:comedy"] == pytest.approx(0.5)
    topics, _ = memory.long_term(as_of=30 * DAY, half_life=MATH.long_half_life_s)
    assert topics["t:comedy"] == pytest.approx(0.125)


def test_negative_feedback_lowers_strength_and_is_counted():
    memory = fresh()
    apply(memory, 0.0, weight=2.0)
    apply(memory, 0.0, weight=-0.5, event_id="dislike")
    topics, subtopics = memory.long_term(as_of=0.0, half_life=MATH.long_half_life_s)
    assert topics["t:comedy"] == pytest.approx(1.5)
    assert subtopics["t:comedy/s1"] == pytest.approx(1.5)
    assert memory.topics["t:comedy"].negative == 1 and memory.topics["t:comedy"].events == 2


def test_weight_is_split_across_an_items_topics():
    memory = fresh()
    apply(memory, 0.0, item="x", weight=2.0)
    topics, subtopics = memory.long_term(as_of=0.0, half_life=MATH.long_half_life_s)
    assert topics == pytest.approx({"t:comedy": 1.0, "t:sci-fi": 1.0})
    assert subtopics == pytest.approx({"t:comedy/s2": 1.0, "t:sci-fi/s1": 1.0})


def test_short_term_decays_in_time_and_in_events():
    memory = fresh()
    apply(memory, 0.0, item="c")
    assert memory.short_term(0.0, PAIRS, MATH)["t:comedy"] == pytest.approx(1.0)
    assert memory.short_term(DAY, PAIRS, MATH)["t:comedy"] == pytest.approx(0.5)
    for index in range(5):  # five newer events at the same moment push it back five ranks: one more halving
        apply(memory, 0.0, item="s", event_id=f"later{index}")
    assert memory.short_term(DAY, PAIRS, MATH)["t:comedy"] == pytest.approx(0.25)


def test_window_keeps_only_the_latest_events_by_time():
    memory = fresh()
    for ts in [5, 1, 9, 3, 7, 2, 8, 6, 4, 0]:  # 10 events, window of 8
        apply(memory, float(ts))
    assert [event.ts for event in memory.window] == [2, 3, 4, 5, 6, 7, 8, 9]


def test_trajectory_has_one_point_per_bucket_with_decayed_strength():
    memory = fresh()
    apply(memory, 0.0)
    apply(memory, 15 * DAY)
    points = memory.topics["t:comedy"].trajectory(as_of=15 * DAY, math_=MATH, points=10)
    starts = [start for start, _ in points]
    assert starts == [0.0, 7 * DAY, 14 * DAY]
    assert points[0][1] == pytest.approx(2**-0.7)  # event at 0 seen at the end of week 1
    assert points[1][1] == pytest.approx(2**-1.4)
    assert points[2][1] == pytest.approx(1 + 2**-1.5)  # now: the new event plus the old one decayed 15 days


def test_sessions_split_on_gaps_and_merge_when_a_late_event_bridges_them():
    memory = fresh()
    apply(memory, 0.0)
    apply(memory, 1800.0)
    apply(memory, 8000.0)  # more than an hour after the last one: a new session
    assert [(s.start, s.end, s.events) for s in memory.sessions] == [(0.0, 1800.0, 2), (8000.0, 8000.0, 1)]
    memory.mark_saved()
    apply(memory, 5000.0)  # arrives late, within an hour of both sessions: they become one
    assert [(s.start, s.end, s.events) for s in memory.sessions] == [(0.0, 8000.0, 4)]
    assert memory.removed_sessions == {"s:8000"}
    assert [event.ts for event in memory.sessions[0].recent] == [1800.0, 5000.0, 8000.0]  # latest 3 kept


def test_an_earlier_event_moves_a_sessions_start_and_id():
    memory = fresh()
    apply(memory, 7200.0)
    memory.mark_saved()
    apply(memory, 6000.0)
    assert memory.sessions[0].key == "s:6000" and memory.removed_sessions == {"s:7200"}


def test_any_arrival_order_gives_the_same_state():
    timeline = [(float(ts * 3000 + (ts % 7) * 50000), "csx"[ts % 3], 1.0 if ts % 4 else -0.5) for ts in range(60)]
    in_order = fresh()
    for ts, item, weight in sorted(timeline):
        apply(in_order, ts, item, weight)
    shuffled = list(timeline)
    random.Random(7).shuffle(shuffled)
    other = fresh(ref=shuffled[0][0])  # a different reference time too
    for ts, item, weight in shuffled:
        apply(other, ts, item, weight)
    as_of = max(ts for ts, _, _ in timeline)
    for left, right in zip(
        in_order.long_term(as_of, MATH.long_half_life_s), other.long_term(as_of, MATH.long_half_life_s)
    ):
        assert left == pytest.approx(right)
    assert in_order.short_term(as_of, PAIRS, MATH) == pytest.approx(other.short_term(as_of, PAIRS, MATH))
    assert in_order.window == other.window
    assert [(s.start, s.end, s.events, s.recent) for s in in_order.sessions] == [
        (s.start, s.end, s.events, s.recent) for s in other.sessions
    ]
    assert in_order.version == other.version
    for node, stats in in_order.topics.items():
        assert stats.buckets == pytest.approx(other.topics[node].buckets)
        assert np.allclose(stats.vector, other.topics[node].vector)


def test_version_changes_with_every_event_and_ignores_order():
    first, second = fresh(), fresh()
    versions = set()
    for ts in range(5):
        apply(first, float(ts))
        versions.add(first.version)
    assert len(versions) == 5
    for ts in reversed(range(5)):
        apply(second, float(ts))
    assert first.version == second.version


def test_reference_time_is_rebased_far_in_the_future_without_changing_strengths():
    memory = fresh()
    apply(memory, 0.0)
    far = 600 * MATH.long_half_life_s  # 2**600 would overflow a float64 product of masses
    apply(memory, far)
    assert memory.ref == far
    topics, _ = memory.long_term(far, MATH.long_half_life_s)
    assert math.isfinite(topics["t:comedy"]) and topics["t:comedy"] == pytest.approx(1.0)


def test_recency_weight_combines_time_and_rank():
    event = WindowEvent(0.0, "e", "c", "like", None, 1.0)
    assert recency(event, rank=5, as_of=DAY, math_=MATH) == pytest.approx(0.25)
