"""The adapter's task from a real embedded memory: the forecast's cuts of the stored log, the
summary the memory itself writes, each user's latest window held out; an unknown role is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.finetune.live_task import task_from_memory
from agent.forecast.horizon import Horizon
from memory.movielens import MOVIELENS_WORDS
from memory.service import InterestMemory
from serving.settings import load_settings
from serving.train_llm import train_llm_role
from tests.memory_support import BagOfWordsEmbedder, event, memory_settings, movie_catalog

GENRES = {"com": 24, "sf": 24}


def test_the_live_task_rebuilds_the_memorys_own_summary_before_each_cut(tmp_path: Path):
    memory = InterestMemory.open(memory_settings(tmp_path), BagOfWordsEmbedder())
    try:
        memory.add_items(movie_catalog())
        events = [event(f"u{u}", f"{'com' if (i < 20) == (u % 2 == 0) else 'sf'}{i % 24}", i + u / 100, "rate", 4.0)
                  for u in range(8) for i in range(40)]
        memory.ingest(events, progress=False)
        task = task_from_memory(memory, list(memory.event_log()), Horizon(unit="events", size=10), MOVIELENS_WORDS,
                                300)
        assert task.level.depth == 0 and {cut.user for cut in task.held_cuts} == {f"u{u}" for u in range(8)}
        held = task.examples(task.held_cuts)
        assert len(held) == 8 and all(e.covered == pytest.approx(1.0) for e in held)
        whole = memory.summary("u0", 300).text
        latest = task.examples([max((c for c in task.held_cuts if c.user == "u0"), key=lambda c: c.history)])[0]
        first_line = whole.splitlines()[0].split(":")[0]
        assert first_line in latest.messages[1].content  # the same renderer: it starts the same way
        assert task.weights["u0"] and set(task.weights["u0"]) <= {w for *_, w in memory.event_log()}
    finally:
        memory.close()


def test_only_the_shift_role_trains_an_adapter(tmp_path: Path):
    with pytest.raises(ValueError, match="trainable roles: shift"):
        train_llm_role(load_settings(data_dir=tmp_path), None, [], "rerank", 1.0, 4, 4, "cpu", print)
