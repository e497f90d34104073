"""Interest-shift scoring of `shiftrec bench eval shift` on hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest

from bench.eval.shift import (
    ShiftCase,
    history_forecast,
    hit_at,
    ndcg_at,
    persistence,
    recent_window,
    score,
    trend_extrapolation,
    without_current_leader,
)
from memory.forecast import forecast

# catalog positions -> topics
TOPICS = [("t:drama",), ("t:comedy",), ("t:horror",), ("t:drama", "t:comedy")]
KNOWN = {topic for topics in TOPICS for topic in topics}


def _case(history, future):
    return ShiftCase("u", np.array(history), np.arange(float(len(history))), np.array(future), 0.0)


def test_hit_and_ndcg_by_hand():
    assert hit_at(["a", "b", "c"], "c") == 1.0 and hit_at(["a", "b", "c", "d"], "d") == 0.0
    shares = {"a": 0.5, "b": 0.3, "c": 0.2}
    assert ndcg_at(["a", "b", "c"], shares) == pytest.approx(1.0)
    dcg = 0.2 + 0.5 / np.log2(3)
    idcg = 0.5 + 0.3 / np.log2(3) + 0.2 / np.log2(4)
    assert ndcg_at(["c", "a", "x"], shares) == pytest.approx(dcg / idcg)


def test_baselines_read_long_run_recent_and_trend():
    case = _case([0] * 30 + [2] * 10, [2] * 10)
    assert persistence(case, TOPICS)[0] == "t:drama"
    assert recent_window(case, TOPICS)[0] == "t:horror"
    assert trend_extrapolation(case, TOPICS)[0] == "t:horror"


def test_shift_cases_and_lift():
    stays = _case([0] * 30, [0] * 10)  # drama before and after: not a shift case
    moves = _case([0] * 30, [1] * 10)  # drama -> comedy: a shift case
    result = score({"persistence": lambda c: ["t:drama"], "oracle": lambda c: ["t:comedy", "t:drama"]},
                   [stays, moves], TOPICS)
    assert result["persistence"]["shift_cases"] == 1
    assert result["persistence"]["hit@3"] == 0.5 and result["persistence"]["shift_hit@3"] == 0.0
    assert result["oracle"]["shift_hit@3"] == 1.0
    assert result["oracle"]["lift_hit@3_vs_persistence"] is None  # persistence scored 0: no ratio


def test_history_forecast_feeds_the_memory_forecast_counts_and_order():
    case = _case([0] * 20 + [1] * 10, [1] * 10)
    assert history_forecast(case, TOPICS, KNOWN) == ["t:drama", "t:comedy", "t:horror"]
    switched = _case([0] * 10 + [2] * 30, [2] * 10)  # drama, then mostly horror
    assert history_forecast(switched, TOPICS, KNOWN)[0] == "t:horror"
    assert history_forecast(switched, TOPICS, KNOWN) == forecast({"t:drama": 10, "t:horror": 30},
                                                                 [("t:drama",)] * 10 + [("t:horror",)] * 30, KNOWN)


def test_bound_drops_the_last_window_leader_and_wins_only_shift_cases():
    stays = _case([1] * 20 + [0] * 10, [0] * 10)  # drama led the last 10 and leads the next 10
    moves = _case([1] * 20 + [0] * 10, [2] * 10)  # drama led the last 10; horror leads the next 10
    assert history_forecast(stays, TOPICS, KNOWN)[:3] == ["t:comedy", "t:drama", "t:horror"]
    assert without_current_leader(stays, TOPICS, KNOWN) == ["t:comedy", "t:horror"]
    result = score({"forecast": lambda c: history_forecast(c, TOPICS, KNOWN),
                    "bound": lambda c: without_current_leader(c, TOPICS, KNOWN)}, [stays, moves], TOPICS)
    assert result["forecast"]["hit@3"] == 1.0 and result["forecast"]["shift_hit@3"] == 1.0
    assert result["bound"]["hit@3"] == 0.5  # the stayer is lost
    assert result["bound"]["shift_hit@3"] == 1.0
