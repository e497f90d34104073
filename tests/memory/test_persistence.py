"""The memory survives a process restart: one process writes, a fresh one reads the same state."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.memory_support import comedy_then_scifi, open_memory

ROOT = Path(__file__).resolve().parents[2]

WRITER = """
import json, sys
from pathlib import Path
from tests.memory_support import comedy_then_scifi, open_memory
memory = open_memory(Path(sys.argv[1]))
events = comedy_then_scifi("rae", per_genre=10)
memory.ingest(events[:15], progress=False)
for late in events[15:]:  # online: the last checkpoint covers 15 events, the log has 20
    memory.record(late)
print(json.dumps({"version": memory.memory_version("rae"), "summary": memory.summary("rae", 500).text}))
"""  # the process ends without close(): the reader must fold in the events after the checkpoint

READER = """
import json, sys
from pathlib import Path
from memory.service import InterestMemory
from tests.memory_support import BagOfWordsEmbedder, memory_settings
memory = InterestMemory.open(memory_settings(Path(sys.argv[1])), BagOfWordsEmbedder())
summary = memory.summary("rae", 500)
print(json.dumps({"version": memory.memory_version("rae"), "summary": summary.text,
                  "digest": summary.digest.model_dump(mode="json"), "seen": sorted(memory.seen_items("rae"))}))
"""


def run_python(code: str, data_dir: Path) -> dict:
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code, str(data_dir)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_new_process_reads_back_exactly_what_another_wrote(tmp_path: Path):
    written = run_python(WRITER, tmp_path)
    read = run_python(READER, tmp_path)
    assert read["version"] == written["version"]
    assert read["summary"] == written["summary"]
    assert read["seen"] == sorted({e.item for e in comedy_then_scifi("rae", per_genre=10)})
    # and it equals what a process that never restarted computes from the same events
    reference = open_memory(tmp_path / "reference")
    reference.ingest(comedy_then_scifi("rae", per_genre=10), progress=False)
    assert reference.digest("rae").model_dump(mode="json") == read["digest"]
