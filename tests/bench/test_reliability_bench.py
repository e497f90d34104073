"""The reliability benchmark's pieces: load arithmetic, SSE outcome parsing, one tiny load run
against the real app on the fake-LLM service, and the results files."""

from __future__ import annotations

import os
from pathlib import Path

from bench.chat_load import ChatLoad, LoadResult, chat_outcome, run_chat_load
from bench.reliability_bench import REQUIRED_KEYS, render_markdown, write_results
from tests.agent_support import SchemaLLM, build_service
from tests.serving.test_api import ADMIN_KEY, KEYED, running_api


def test_the_summary_counts_errors_and_percentiles_per_endpoint():
    result = LoadResult(rss_before_mb=100.0, rss_after_mb=112.5, wall_s=3.0)
    for seconds in (0.1, 0.2, 0.3, 0.4):
        result.note("chat", seconds, True)
    result.note("chat", 9.0, False, "500 boom")
    result.note("profile", 0.05, True)
    summary = result.summary(clients=2)
    assert summary["load_users"] == 2 and summary["load_requests"] == 6 and summary["load_errors"] == 1
    assert summary["chat_requests"] == 5 and summary["chat_p50_ms"] == 250.0 and summary["profile_p95_ms"] == 50.0
    assert summary["load_rss_growth_mb"] == 12.5 and result.error_samples == ["chat: 500 boom"]


def test_a_chat_reply_counts_only_when_it_ends_with_done():
    done = 'event: text\ndata: {"kind": "text"}\n\nevent: recommendations\ndata: {"record": {"degraded": true}}\n\n' \
           'event: done\ndata: {"kind": "done"}\n\n'
    assert chat_outcome(done) == (True, True, "")
    broken = 'event: text\ndata: {"kind": "text"}\n\nevent: error\ndata: {"error": {}}\n\n'
    assert chat_outcome(broken)[0] is False and "error" in chat_outcome(broken)[2]
    assert chat_outcome("")[0] is False


def test_a_short_load_run_against_the_api_stops_by_itself_without_errors(tmp_path: Path):
    service = build_service(tmp_path / "data", SchemaLLM())
    load = ChatLoad(users=["ana", "bob", "cy"], clients=4, duration_s=30.0, max_turns_per_client=4,
                    feedback_item="sf3")
    try:
        with running_api(service, KEYED) as url:
            result = run_chat_load(url, {"Authorization": f"Bearer {ADMIN_KEY}"}, load, os.getpid())
    finally:
        service.close()
    assert result["load_errors"] == 0, result["load_error_samples"]
    assert result["chat_requests"] == 16 and result["profile_requests"] == 4 and result["feedback_requests"] == 4
    assert result["load_p95_ms"] > 0 and result["load_wall_s"] < 30


def test_the_results_files_hold_every_required_number(tmp_path: Path):
    result = {key: 0 for key in REQUIRED_KEYS} | {"llm_recovery_s": 4.2, "load_p95_ms": 812.0}
    write_results(result, tmp_path)
    assert REQUIRED_KEYS <= set((tmp_path / "reliability.json").read_text() and __import__("json").loads(
        (tmp_path / "reliability.json").read_text()))
    markdown = (tmp_path / "reliability.md").read_text()
    assert "| llm_recovery_s | 4.2 | <= 10 (met) |" in markdown and render_markdown(result) == markdown
