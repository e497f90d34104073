"""`shiftrec train`: a separate process reads the memory, publishes a version, and says what it learned."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from agent.rankers.artifacts import ArtifactStore
from memory.service import InterestMemory
from serving.cli import app
from tests.memory_support import comedy_then_scifi, event, memory_settings, movie_catalog


def test_train_publishes_a_version_of_the_log_in_memory(tmp_path: Path, monkeypatch):
    with InterestMemory.open(memory_settings(tmp_path)) as memory:  # the real embedder, as `serve` opens it
        memory.add_items(movie_catalog())
        memory.ingest(comedy_then_scifi("ana", per_genre=10)
                      + [event("bob", f"sf{i}", i, "rate", 5.0) for i in range(20)], progress=False)
    monkeypatch.setenv("SHIFTREC_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["train", "--epochs", "1"])
    assert result.exit_code == 0, result.output
    meta = ArtifactStore(tmp_path / "models" / "behaviour").current()
    assert meta is not None and meta.events == 40 and meta.users == 2 and meta.sequential
    assert f"published {meta.version}: 40 events, 2 users" in result.output
    again = CliRunner().invoke(app, ["train", "--epochs", "1"])
    newer = ArtifactStore(tmp_path / "models" / "behaviour").current()
    assert again.exit_code == 0 and newer.version > meta.version and newer.log_fingerprint == meta.log_fingerprint
