"""`bench eval shift`'s forecast part on a synthetic log: every method scored on the same cases, the
shipped forecast refitted before each test cut on earlier cuts only, and the report's keys."""

from __future__ import annotations

import json
from pathlib import Path

from agent.forecast.cases import day_cuts, monthly_cut_times, user_logs
from agent.forecast.horizon import DAY_S, Horizon
from agent.forecast.population import LevelIndex
from bench.eval.shift_data import ShiftDataset
from bench.eval.shift_forecast import evaluate_level
from bench.eval.shift_report import METHODS, markdown
from tests.agent.forecast.support import one_torch_thread, switching_log, two_level_nodes  # noqa: F401

HORIZON = Horizon(unit="days", size=30)


def _dataset() -> ShiftDataset:
    rows, _ = switching_log(users=120, topics=4, months=12, per_month=12, seed=3)
    nodes_of = two_level_nodes(4)
    logs = user_logs(rows, nodes_of)
    times = monthly_cut_times(logs, HORIZON)
    test, validation = times[-3:], times[-4]
    train = [t for t in times if t + HORIZON.size * DAY_S <= validation]
    every = sorted({node for nodes in nodes_of.values() for node in nodes})
    return ShiftDataset("synthetic", HORIZON, logs, {"topic": LevelIndex.of(every, 0)}, "topic",
                        day_cuts(logs, train, HORIZON), day_cuts(logs, [validation], HORIZON),
                        day_cuts(logs, test, HORIZON))


def test_every_method_is_scored_on_the_same_cases_and_the_learned_forecast_wins_on_a_shifting_log():
    result = evaluate_level(_dataset(), "topic", lambda line: None, keep_cases=True)
    methods = result["methods"]
    assert set(methods) == {"persistence", "long_run", "recent", "trend", "seasonal", "shiftrec"}
    assert len({row["cases"] for row in methods.values()}) == 1  # identical test cases for all
    assert result["costs"]["refits"] == 3  # one fit before each test cut
    best_baseline = min(row["xent"] for name, row in methods.items() if name != "shiftrec")
    assert methods["shiftrec"]["xent"] < best_baseline
    assert 0 <= methods["shiftrec"]["ece"] <= 0.2 and result["reliability"]["claims"] > 0
    assert len(result["test_cases"]) == methods["shiftrec"]["cases"]


def test_the_report_lists_each_method_and_says_when_one_was_not_measured(tmp_path: Path):
    row = {"xent": 1.0, "brier": 0.1, "hit@3": 0.5, "shift_hit@3": None, "cases": 3, "ece": 0.01}
    data = {**{m: row for m in METHODS}, "llm": {"measured": False, "why": "no LLM in this run"}, "level": "topic",
            "horizon": "10e", "levels": {"topic": {m: row for m in METHODS if m != "llm"}}}
    text = markdown({"measured_at": "now", "load_average": {}, "grocery": data, "ml-1m": data})
    assert "| llm | not measured: no LLM in this run" in text and "| shiftrec | 1.000 | 0.1000 | 0.500 | - | 3 |" in text
    json.dumps(data)  # what write() stores is plain JSON
