"""SHIFTREC_DEMO: MovieLens, the grocery subsample or nothing, each loaded once."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.service import ShiftRecService
from memory.grocery import NOTICE, load_grocery
from memory.service import InterestMemory
from serving import demo
from serving.settings import load_settings
from tests.memory_support import BagOfWordsEmbedder, movie_catalog


def _memory(settings) -> InterestMemory:
    return InterestMemory.open(settings.memory_config, BagOfWordsEmbedder())


def test_demo_none_loads_nothing_and_the_service_answers_cold_at_once(tmp_path: Path):
    settings = load_settings(data_dir=tmp_path, cache_dir=tmp_path / "cache", demo="none")
    with _memory(settings) as memory:
        report = demo.ensure_demo_data(memory, settings)
        assert (report.dataset, report.items, report.events) == ("none", 0, 0)
        assert "SHIFTREC_DEMO=none" in report.describe() and memory.store.item_count() == 0
        service = ShiftRecService.create(settings.agent_config, memory, None, echo=lambda line: None)
        try:
            empty = service.recommend("newcomer")
            assert empty.cold_start and empty.items == []
            memory.add_items(movie_catalog())
            assert service.recommend("newcomer").items == [], "no events yet: nothing is popular"
        finally:
            service.close()
    assert not list(tmp_path.glob("demo-*.json")), "no marker: nothing was loaded"


def test_an_unknown_demo_is_refused_with_the_choices(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SHIFTREC_DEMO", "ml-25m")
    with pytest.raises(ValueError, match="'ml-100k', 'grocery' or 'none'"):
        load_settings()


def test_the_grocery_demo_loads_once_and_says_the_data_is_simulated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    small = load_grocery(households=12, min_buyers=2)
    monkeypatch.setattr(demo, "load_grocery", lambda: small)  # the real loader, a smaller sample
    settings = load_settings(data_dir=tmp_path, demo="grocery")
    with _memory(settings) as memory:
        first = demo.ensure_demo_data(memory, settings)
        assert not first.skipped and first.items == len(small.items) == memory.store.item_count()
        assert first.events == len(small.purchases) and first.users == len(small.households)
        assert first.notice == NOTICE and "simulated" in first.describe()
        again = demo.ensure_demo_data(memory, settings)
        assert again.skipped and again.events == first.events
        household = small.households[0]
        assert memory.digest(household).events == (small.purchases["household"] == household).sum()


def test_on_the_grocery_demo_a_household_gets_its_own_staples_back_in_grocery_words(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    small = load_grocery(households=12, min_buyers=2)
    monkeypatch.setattr(demo, "load_grocery", lambda: small)
    settings = load_settings(data_dir=tmp_path, cache_dir=tmp_path / "cache", demo="grocery")
    assert settings.agent_config.agent.allow_seen is True and settings.agent_config.words.noun == "product"
    with _memory(settings) as memory:
        demo.ensure_demo_data(memory, settings)
        service = ShiftRecService.create(settings.agent_config, memory, None, echo=lambda line: None)
        try:
            household = small.households[0]
            bought = set(small.purchases.loc[small.purchases["household"] == household, "product"])
            record = service.recommend(household, count=10)
            listed = [entry.item_id for entry in record.items]
            assert set(listed) & bought, "a household's own staples come back"
            assert any("repeat" in entry.sources for entry in record.items)
            assert len({entry.title for entry in record.items}) == len(listed), "never two of one title"
            reasons = " ".join(entry.explanation.reason for entry in record.items if entry.explanation)
            assert reasons and "movie" not in reasons.lower()
        finally:
            service.close()
