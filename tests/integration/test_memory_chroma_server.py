"""What only a real `chroma run` server can show: URL-driven set-up and data that outlives the server.

The whole memory suite (tests/memory/test_service.py) also runs against a server through
the ``memory_backend`` fixture; these tests add the server's own life cycle.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from memory.service import InterestMemory
from serving.settings import load_settings
from tests.memory_support import (
    BagOfWordsEmbedder,
    comedy_then_scifi,
    event,
    movie_catalog,
    open_memory,
    start_chroma_server,
    stop,
)

pytestmark = pytest.mark.integration


def test_shiftrec_chroma_url_puts_the_memory_on_the_server(
    chroma_server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("SHIFTREC_CHROMA_URL", chroma_server_url)
    monkeypatch.setenv("SHIFTREC_DATA_DIR", str(tmp_path))
    settings = load_settings()  # as every entry point builds it
    InterestMemory.open(settings.memory_config, BagOfWordsEmbedder()).store.drop_collections()  # a clean server
    memory = InterestMemory.open(settings.memory_config, BagOfWordsEmbedder())
    memory.add_items(movie_catalog())
    memory.ingest(comedy_then_scifi("sam", per_genre=3), progress=False)
    assert memory.digest("sam").events == 6
    assert not (tmp_path / "chroma").exists(), "nothing was written to an embedded store"


def test_the_memory_outlives_a_server_restart(tmp_path: Path):
    process, url = start_chroma_server(tmp_path)
    try:
        memory = open_memory(tmp_path / "client", chroma_url=url)
        memory.ingest(comedy_then_scifi("tia", per_genre=6), progress=False)
        version, summary = memory.memory_version("tia"), memory.summary("tia", 400).text
    finally:
        stop(process)
    process, url = start_chroma_server(tmp_path)  # same --path, new process and port
    try:
        reopened = InterestMemory.open(
            load_settings(data_dir=tmp_path / "client", chroma_url=url).memory_config, BagOfWordsEmbedder()
        )
        assert reopened.memory_version("tia") == version
        assert reopened.summary("tia", 400).text == summary
        assert reopened.record(event("tia", "dr1", 30)).applied
        assert reopened.digest("tia").events == 13
    finally:
        stop(process)
