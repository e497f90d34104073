"""The agent benchmark's harness on the small catalog with fakes: it runs end to end and writes
every key the issue names, with values that follow from what happened."""

from __future__ import annotations

import json
from pathlib import Path

from bench.agent_bench import run_agent_bench
from tests.agent_support import SchemaLLM, build_service

REQUIRED = ["cold_turn_p50_s", "warm_turn_p50_s", "first_explanation_p50_s", "why_p50_ms", "feedback_turn_p50_s",
            "invalid_before_validation_rate", "invalid_reaching_user", "intent_accuracy"]


def test_the_agent_bench_writes_every_required_key(tmp_path: Path):
    service = build_service(tmp_path / "data", SchemaLLM(invent_first=True))
    result = run_agent_bench(service, tmp_path / "results", ["ana", "bob", "cy", "dee"] * 2, rounds=1)
    written = json.loads((tmp_path / "results" / "agent.json").read_text())
    assert all(key in written for key in REQUIRED) and written == json.loads(json.dumps(result))
    assert written["invalid_before_validation_rate"] == 1.0  # the fake invents evidence on every first try
    assert written["invented_evidence_rate"] >= 1.0 and written["invalid_reaching_user"] == 0
    # the LLM writes each reason that has related history to cite; in this tiny catalog the topic cap puts 2 of
    # 5 picks outside a one-topic user's topics, and those get the template (no related event to cite)
    assert written["llm_explanation_share"] > 0.45 and written["warm_turn_n"] == 8
    assert written["cold_turn_p50_s"] > 0 and written["intent_cases"] == 96
    assert "| why? p50 / p95 (ms) |" in (tmp_path / "results" / "agent.md").read_text()
