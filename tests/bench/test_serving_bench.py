"""The serving benchmark's arithmetic, and one tiny run against the real app on the fake-LLM service."""

from __future__ import annotations

import json
from pathlib import Path

from bench.serving_bench import Phase, Sample, ServingLoad, run_serving_bench, summarise, why_jobs
from tests.agent_support import SchemaLLM, build_service
from tests.serving.test_api import ADMIN_KEY, KEYED, running_api

REQUIRED = {"errors", "recommend_p50_ms_8", "recommend_p95_ms_8", "recommend_p95_ms_32", "why_p95_ms_32", "rps_32",
            "degraded_share_32"}


def test_summary_counts_errors_rates_percentiles_and_degraded_answers():
    recommend = Phase("recommend", 8, [Sample(0.1, True), Sample(0.3, True, degraded=True), Sample(9.0, False)], 2.0)
    why = Phase("why", 8, [Sample(0.01, True), Sample(0.03, True)], 0.5)
    result = summarise([recommend, why, Phase("recommend", 32, [Sample(1.0, True)], 1.0), Phase("why", 32, [], 0.1)])
    assert REQUIRED <= set(result)
    assert result["errors"] == 1 and result["recommend_errors_8"] == 1 and result["recommend_requests_8"] == 3
    assert result["recommend_rps_8"] == 1.0 and result["why_rps_8"] == 4.0  # answered requests per wall second
    assert result["recommend_p50_ms_8"] == 200.0 and result["why_p50_ms_8"] == 20.0
    assert result["recommend_degraded_share_8"] == 0.5 and "why_degraded_share_8" not in result
    assert result["rps_32"] == 1.0 and result["degraded_share_32"] == 0.0 and result["why_p95_ms_32"] is None


def test_why_questions_cycle_over_records_then_their_items():
    answered = [Sample(1.0, True, why_target=("u1", "r1", ("a", "b"))), Sample(1.0, False),
                Sample(1.0, True, why_target=("u2", "r2", ("c",)))]
    assert why_jobs(answered, 5) == [("u1", "r1", "a"), ("u2", "r2", "c"), ("u1", "r1", "b"), ("u2", "r2", "c"),
                                     ("u1", "r1", "a")]
    assert why_jobs([Sample(1.0, False)], 5) == []


def test_a_small_run_against_the_api_writes_both_result_files(tmp_path: Path):
    service = build_service(tmp_path / "data", SchemaLLM())
    load = ServingLoad(users=["ana", "bob", "cy"], rounds=2, why_per_client=3, levels=(2, 3), count=3)
    with running_api(service, KEYED) as url:
        result = run_serving_bench(url, ADMIN_KEY, load, tmp_path / "results")
    service.close()
    assert result["errors"] == 0
    assert result["recommend_requests_2"] == 4 and result["recommend_requests_3"] == 6 and result["why_requests_3"] == 9
    assert result["first_wave_requests_2"] == 2 and result["first_wave_errors_2"] == 0  # the cold wave, apart
    assert result["degraded_share_3"] == 0.0 and result["recommend_p95_ms_3"] >= result["recommend_p50_ms_3"] > 0
    assert json.loads((tmp_path / "results" / "serving.json").read_text())["rps_3"] == result["rps_3"]
    table = (tmp_path / "results" / "serving.md").read_text()
    assert "| recommend | 3 | 6 | 0 |" in table and "| why | 2 | 6 | 0 |" in table
    assert "comparison_" not in table  # nothing to compare with


def test_earlier_runs_are_stored_and_shown_beside_this_one(tmp_path: Path):
    from bench.serving_bench import _comparison_table

    earlier = {"recommend_p95_ms_8": 6872.1, "errors": 0, "measured_at": "then", "comparison_old": {"x": 1}}
    path = tmp_path / "earlier.json"
    path.write_text(json.dumps(earlier))
    service = build_service(tmp_path / "data", SchemaLLM())
    load = ServingLoad(users=["ana", "bob"], rounds=1, why_per_client=1, levels=(2,), count=2)
    with running_api(service, KEYED) as url:
        result = run_serving_bench(url, ADMIN_KEY, load, tmp_path / "results", {"words": path})
    service.close()
    assert result["comparison_words"]["recommend_p95_ms_8"] == 6872.1
    assert "comparison_old" not in result["comparison_words"]  # one level deep, not a chain
    rows = _comparison_table(result)
    assert rows[-2].startswith("| words | then |") and "| 6872.1 |" in rows[-2]
    assert rows[-3].startswith("| this run |")
    assert "| words | then |" in (tmp_path / "results" / "serving.md").read_text()
