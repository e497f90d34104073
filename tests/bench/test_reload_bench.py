"""Retraining and swapping behaviour models under HTTP load fails no request (real API, real models)."""

from __future__ import annotations

import json
from pathlib import Path

from bench.reload_bench import run_reload_bench
from serving.settings import load_settings


def test_reloads_under_http_load_fail_no_request_and_keep_other_result_keys(tmp_path: Path):
    (tmp_path / "domains.json").write_text(json.dumps({"catalog_items_per_s": 1.0}))
    settings = load_settings(data_dir=tmp_path / "data", cache_dir=tmp_path / "cache")
    result = run_reload_bench(settings, tmp_path, users=20, reloads=2, clients=2)
    reload = result["reload"]
    assert result["reload_failed_requests"] == 0 and reload["requests"] > 0
    assert len(set(reload["versions_served"])) == 2, "each retraining published and served a new version"
    stored = json.loads((tmp_path / "domains.json").read_text())
    assert stored["catalog_items_per_s"] == 1.0 and stored["reload_failed_requests"] == 0
