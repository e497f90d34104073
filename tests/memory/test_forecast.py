"""The next-interest forecast (memory/forecast.py) on hand-made histories, and in the digest."""

from __future__ import annotations

from pathlib import Path

import pytest

from memory import forecast as fc
from memory.forecast import forecast
from tests.memory_support import comedy_then_scifi, open_memory


def _history(*runs: tuple[str, int]) -> tuple[dict[str, int], list[tuple[str, ...]]]:
    """(topic, n) runs, oldest first -> long-run counts and the events' topics."""
    recent = [(topic,) for topic, n in runs for _ in range(n)]
    counts: dict[str, int] = {}
    for (topic,) in recent:
        counts[topic] = counts.get(topic, 0) + 1
    return counts, recent


def test_no_events_no_forecast():
    assert forecast({}, []) == []
    assert forecast({"t:x": 0}, [], known={"t:drama"}) == []


def test_a_recent_switch_leads_the_forecast():
    counts, recent = _history(("t:x", 10), ("t:y", 10))  # equal long run, y is the latest
    assert forecast(counts, recent) == ["t:y", "t:x"]


def test_the_last_windows_leader_is_marked_down(monkeypatch: pytest.MonkeyPatch):
    counts, recent = _history(("t:x", 20), ("t:y", 10))
    assert forecast(counts, recent) == ["t:x", "t:y"]  # y led the last 10: penalised, x's long run wins
    monkeypatch.setattr(fc, "REPEAT_PENALTY", 0.0)
    assert forecast(counts, recent) == ["t:y", "t:x"]


def test_ties_go_to_the_smaller_id():
    assert forecast({"t:b": 3, "t:a": 3}, []) == ["t:a", "t:b"]
    # two topics on every item: the last window's leader is the smaller id (as the eval's dominant), so it drops
    assert forecast({"t:b": 4, "t:a": 4}, [("t:a", "t:b")] * 4) == ["t:b", "t:a"]


def test_an_items_repeated_topic_counts_once():
    counts = {"t:x": 2, "t:y": 2}
    assert forecast(counts, [("t:x", "t:x"), ("t:y",)]) == forecast(counts, [("t:x",), ("t:y",)])


def test_prior_topics_fill_in_only_when_the_catalog_knows_them():
    counts, recent = _history(("t:horror", 12))
    assert forecast(counts, recent) == ["t:horror"]
    known = {"t:horror", "t:drama", "t:comedy", "t:action", "t:no-prior"}
    assert forecast(counts, recent, known=known) == ["t:horror", "t:drama", "t:comedy", "t:action"]
    assert forecast(counts, recent, known=known, shown=2) == ["t:horror", "t:drama"]


def test_the_digest_carries_the_forecast(tmp_path: Path):
    memory = open_memory(tmp_path)
    memory.ingest(comedy_then_scifi("ana"), progress=False)
    digest = memory.digest("ana")
    # 20 comedies then 20 sci-fi: sci-fi's recent share beats its repeat penalty; drama only from the prior
    assert digest.forecast == ["t:sci-fi", "t:comedy", "t:drama"]
    assert digest.shift.to_node == "t:sci-fi"  # the trend estimate is unchanged
