"""``bench/results/domains.json`` is written by several benchmarks (catalog, reload, P4): each
merges its own keys into the file and keeps the others."""

from __future__ import annotations

import json
from pathlib import Path

DOMAINS_FILE = "domains.json"


def merge_domains(results_dir: Path, values: dict) -> Path:
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / DOMAINS_FILE
    stored = json.loads(path.read_text()) if path.is_file() else {}
    stored.update(values)
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(stored, indent=2) + "\n")
    temporary.replace(path)  # a reader sees the old file or the new one, never half of it
    return path
