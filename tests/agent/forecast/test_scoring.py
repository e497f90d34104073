"""Scoring a forecast against the horizon's events, worked out by hand: which events are in the
horizon, grow and shrink claims, the lead hit and the cross-entropy (never infinite)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

from agent.forecast.horizon import Horizon
from agent.forecast.scoring import SHARE_FLOOR, LoggedEvent, expected_mix, horizon_events, is_due, score
from tests.forecast_support import movie_forecast, topics_level

MADE = datetime(2024, 3, 1, tzinfo=timezone.utc)
LEVELS = {0: frozenset({"t:sci-fi", "t:comedy", "t:drama", "t:horror"}), 1: frozenset({"t:comedy/s1"})}
SCIFI, COMEDY, DRAMA = frozenset({"t:sci-fi", "t:sci-fi/s1"}), frozenset({"t:comedy", "t:comedy/s1"}), frozenset(
    {"t:drama"})


def logged(*events: tuple[float, frozenset[str]], first_seq: int = 1) -> list[LoggedEvent]:
    """Events ``days`` after MADE, numbered in the order given."""
    return [LoggedEvent(first_seq + i, (MADE + timedelta(days=days)).timestamp(), nodes)
            for i, (days, nodes) in enumerate(events)]


def test_an_event_horizon_takes_the_next_events_logged_after_the_forecast():
    forecast = movie_forecast("ana", MADE, events_at=2, horizon=Horizon(unit="events", size=4))
    history = logged((-2, COMEDY), (-1, COMEDY))
    after = logged((1, SCIFI), (2, SCIFI), (3, SCIFI), first_seq=3)
    assert not is_due(forecast, history + after, MADE)
    later = logged((4, COMEDY), (5, DRAMA), first_seq=6)
    assert is_due(forecast, history + after + later, MADE)
    assert [e.seq for e in horizon_events(forecast, history + after + later)] == [3, 4, 5, 6]  # not the 5th after


def test_grow_and_shrink_claims_against_the_realised_shares():
    forecast = movie_forecast("ana", MADE, events_at=2, horizon=Horizon(unit="events", size=4))
    events = logged((-2, COMEDY), (-1, COMEDY), (1, SCIFI), (2, SCIFI), (3, SCIFI), (4, COMEDY), (5, DRAMA))
    scored = score(forecast, events, LEVELS)
    outcome = {(c.id, c.direction): (c.share_realised, c.came_true) for c in scored.claims}
    assert outcome == {("t:sci-fi", "grow"): (0.75, True),  # 0.75 > 0.2
                       ("t:comedy", "shrink"): (0.25, True),  # 0.25 < 0.8
                       ("t:drama", "grow"): (0.0, False)}  # the drama event is the 5th after: outside
    assert scored.events == 4 and [c.probability for c in scored.claims] == [0.7, 0.65, 0.2]


def test_claims_that_miss_come_out_false():
    forecast = movie_forecast("ana", MADE, events_at=0, horizon=Horizon(unit="events", size=2))
    scored = score(forecast, logged((1, COMEDY), (2, DRAMA)), LEVELS)  # comedy 0.5 is below 0.8 only
    assert {c.id: c.came_true for c in scored.claims} == {"t:sci-fi": False, "t:comedy": True, "t:drama": True}
    steady = score(forecast, logged((1, COMEDY), (2, COMEDY)), LEVELS)
    assert {c.id: c.came_true for c in steady.claims} == {"t:sci-fi": False, "t:comedy": False, "t:drama": False}


def test_a_day_horizon_scores_the_events_between_made_and_due_once_due_has_passed():
    forecast = movie_forecast("bob", MADE, events_at=1, horizon=Horizon(unit="days", size=30))
    events = logged((-1, COMEDY), (0, DRAMA), (1, SCIFI), (10, SCIFI), (30, COMEDY), (31, DRAMA))
    assert not is_due(forecast, events, MADE + timedelta(days=29, hours=23))
    assert is_due(forecast, events, MADE + timedelta(days=30))
    window = horizon_events(forecast, events)
    assert [round((datetime.fromtimestamp(e.ts, tz=timezone.utc) - MADE).days) for e in window] == [1, 10, 30]
    outcome = {c.id: (round(c.share_realised, 4), c.came_true) for c in score(forecast, events, LEVELS).claims}
    # at made_at and after due_at are out: drama never shows, sci-fi 2/3 > 0.2, comedy 1/3 < 0.8
    assert outcome == {"t:sci-fi": (0.6667, True), "t:comedy": (0.3333, True), "t:drama": (0.0, False)}


def test_the_lead_hit_asks_whether_the_realised_leader_was_among_the_three_likeliest():
    forecast = movie_forecast("ana", MADE, events_at=0, horizon=Horizon(unit="events", size=3))
    hit = score(forecast, logged((1, SCIFI), (2, SCIFI), (3, COMEDY)), LEVELS).levels
    assert [(lv.depth, lv.leader_label, lv.lead_hit) for lv in hit] == [(0, "Sci-Fi", True)]
    level = topics_level([("t:sci-fi", "Sci-Fi", 0.2, 0.5, 0.6), ("t:comedy", "Comedy", 0.8, 0.4, 0.3),
                          ("t:drama", "Drama", 0.0, 0.05, 0.05), ("t:horror", "Horror", 0.0, 0.0, 0.04)])
    narrow = movie_forecast("ana", MADE, 0, Horizon(unit="events", size=2), level=level)
    miss = score(narrow, logged((1, frozenset({"t:horror"})), (2, frozenset({"t:horror"}))), LEVELS).levels[0]
    assert miss.lead_hit is False and miss.leader_label == "Horror"


def test_the_cross_entropy_spreads_the_other_share_over_the_unlisted_nodes():
    level = topics_level([("t:comedy", "Comedy", 0.8, 0.5, 0.6), ("t:sci-fi", "Sci-Fi", 0.2, 0.3, 0.4)],
                         other_share=0.2)
    forecast = movie_forecast("ana", MADE, 0, Horizon(unit="events", size=4), level=level,
                              claims=[("t:sci-fi", "grow", 0.6)])
    events = logged((1, SCIFI), (2, SCIFI), (3, SCIFI), (4, COMEDY))
    assert expected_mix(level, {}, LEVELS[0]) == {"t:comedy": 0.5, "t:sci-fi": 0.3, "t:drama": 0.1, "t:horror": 0.1}
    expected = -(0.75 * math.log(0.3) + 0.25 * math.log(0.5))
    assert score(forecast, events, LEVELS).levels[0].cross_entropy == round(expected, 4)
    unlisted = score(forecast, logged((1, DRAMA), (2, DRAMA), (3, DRAMA), (4, DRAMA)), LEVELS).levels[0]
    assert unlisted.cross_entropy == round(-math.log(0.1), 4) and unlisted.lead_hit is False


def test_no_node_gets_probability_zero():
    level = topics_level([("t:comedy", "Comedy", 1.0, 1.0, 1.0)], other_share=0.0)  # rounded shares can be 0
    mix = expected_mix(level, {"t:drama": 1.0, "t:unknown": 0.0}, LEVELS[0])
    assert min(mix.values()) >= SHARE_FLOOR / 1.01 and math.isclose(sum(mix.values()), 1.0)
    forecast = movie_forecast("ana", MADE, 0, Horizon(unit="events", size=1), level=level,
                              claims=[("t:comedy", "shrink", 0.1)])
    xent = score(forecast, logged((1, DRAMA)), LEVELS).levels[0].cross_entropy
    assert math.isfinite(xent) and xent > 5


def test_claims_at_a_level_the_horizon_never_reached_are_not_scored():
    forecast = movie_forecast("ana", MADE, events_at=0, horizon=Horizon(unit="events", size=2))
    scored = score(forecast, logged((1, frozenset({"t:books/history"})), (2, frozenset({"t:books/history"}))),
                   {1: frozenset({"t:books/history"})})
    assert scored.events == 2 and scored.claims == []
    assert [(lv.events, lv.lead_hit, lv.cross_entropy) for lv in scored.levels] == [(0, None, None)]
