"""`shiftrec bench memory` on a small slice: every promised number and file is produced."""

from __future__ import annotations

import json
from pathlib import Path

from bench.memory_bench import run_memory_bench
from serving.settings import load_settings
from tests.memory_support import BagOfWordsEmbedder

REQUIRED = [
    "ingest_events_per_s",
    "raw_add_rows_per_s",
    "ingest_vs_raw",
    "update_p50_ms",
    "update_p95_ms",
    "summary_p50_ms_2000",
    "summary_p95_ms_2000",
    "load_average_before",
    "growth",
]


def test_the_memory_benchmark_writes_its_numbers_table_and_plot(tmp_path: Path):
    settings = load_settings(data_dir=tmp_path / "unused")
    result = run_memory_bench(
        settings,
        tmp_path,
        dataset="ml-100k",
        events_limit=1200,
        growth_sizes=(10, 100),
        samples=6,
        embedder=BagOfWordsEmbedder(),
    )
    stored = json.loads((tmp_path / "memory.json").read_text())
    assert stored == json.loads(json.dumps(result))
    assert all(key in stored for key in REQUIRED)
    assert stored["events"] == 1200 and stored["ingest_events_per_s"] > 0 and stored["raw_add_rows_per_s"] > 0
    assert [row["history_events"] for row in stored["growth"]] == [10, 100]
    assert all(row["summary_p95_ms"] >= row["summary_p50_ms"] > 0 for row in stored["growth"])
    table = (tmp_path / "memory.md").read_text()
    assert "| ingest / raw add |" in table and "| 100 |" in table
    assert (tmp_path / "memory_growth.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (tmp_path / "unused").exists(), "the benchmark works in a temporary store"
