"""The Chroma store: scores, user filters, configuration errors, write-ahead logging."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from memory.rows import Row
from memory.service import InterestMemory
from memory.store import ChromaStore, StoreMismatchError
from tests.memory_support import (
    BagOfWordsEmbedder,
    comedy_then_scifi,
    memory_settings,
    open_memory,
)


def test_similarity_is_cosine_and_higher_means_closer(tmp_path: Path):
    store = ChromaStore.embedded(tmp_path, dimension=3, embedder_name="unit-test")
    vectors = {"x": [1.0, 0.0, 0.0], "diagonal": [1.0, 1.0, 0.0], "y": [0.0, 1.0, 0.0], "minus-x": [-1.0, 0.0, 0.0]}
    store.upsert_items(
        [
            Row(name, np.array(vector, dtype=np.float32), {"title": name, "pairs": "[]"})
            for name, vector in vectors.items()
        ]
    )
    hits = store.nearest_items_many([np.array([2.0, 0.0, 0.0])], n=4)[0]
    assert [hit.id for hit in hits] == ["x", "diagonal", "y", "minus-x"]
    assert [round(hit.similarity, 4) for hit in hits] == [1.0, round(2**-0.5, 4), 0.0, -1.0]


def test_per_user_queries_refuse_a_missing_user(tmp_path: Path):
    store = ChromaStore.embedded(tmp_path, dimension=3, embedder_name="unit-test")
    with pytest.raises(ValueError, match="needs at least one non-empty user id"):
        store.user_events("")
    with pytest.raises(ValueError, match="non-empty user id"):
        store.delete_user("")


def test_the_sqlite_file_uses_write_ahead_logging(tmp_path: Path):
    open_memory(tmp_path).ingest(comedy_then_scifi("ann", per_genre=2), progress=False)
    header = (tmp_path / "chroma" / "chroma.sqlite3").read_bytes()[:20]
    assert header[18:20] == b"\x02\x02", "WAL is recorded in the file header"


def test_an_existing_rollback_journal_store_is_switched_on_open(tmp_path: Path):
    folder = tmp_path / "old"
    folder.mkdir()
    with sqlite3.connect(folder / "chroma.sqlite3") as connection:  # as Chroma leaves a file it created itself
        connection.execute("PRAGMA journal_mode=DELETE")
        connection.execute("CREATE TABLE probe (x)")
    ChromaStore.embedded(folder, dimension=3, embedder_name="unit-test")
    assert (folder / "chroma.sqlite3").read_bytes()[18:20] == b"\x02\x02"


def test_a_store_built_with_another_embedder_is_refused(tmp_path: Path):
    open_memory(tmp_path)
    with pytest.raises(StoreMismatchError, match="built with bag-of-words-64 .64-d vectors. but other .384-d"):
        ChromaStore.embedded(tmp_path / "chroma", dimension=384, embedder_name="other")


def test_an_unreachable_server_is_a_clear_error(tmp_path: Path):
    settings = memory_settings(tmp_path, chroma_url="http://127.0.0.1:9")
    with pytest.raises(ConnectionError, match="cannot reach the Chroma server at http://127.0.0.1:9.*chroma run"):
        InterestMemory.open(settings, BagOfWordsEmbedder())
    with pytest.raises(ValueError, match="not an http"):
        InterestMemory.open(memory_settings(tmp_path, chroma_url="localhost:8000"), BagOfWordsEmbedder())


def test_nearest_rows_orders_by_cosine_and_keeps_row_order_on_ties():
    from memory.rows import Row, nearest_rows

    rows = [Row("far", np.array([-1.0, 0.5], dtype=np.float32)),
            Row("near", np.array([2.0, 0.1], dtype=np.float32)),
            Row("zero", np.zeros(2, dtype=np.float32)),
            Row("near-twin", np.array([4.0, 0.2], dtype=np.float32))]
    found = nearest_rows(rows, [np.array([1.0, 0.0], dtype=np.float32)], 3)[0]
    assert [row.id for row, _ in found] == ["near", "near-twin", "zero"]
    assert found[0][1] == pytest.approx(found[1][1]) and found[0][1] == pytest.approx(0.99875, abs=1e-4)
    assert found[2][1] == 0.0  # a zero vector is not similar to anything, and never a NaN
    assert nearest_rows(rows, [np.array([1.0, 0.0])], 0) == [[]] and nearest_rows([], [np.array([1.0, 0.0])], 3) == [[]]
