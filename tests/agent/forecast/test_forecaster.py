"""The shipped forecast through a real memory and service: nothing before a version with a forecast
is trained; then probabilities that add up, claims in [0, 1], and a sentence that names real nodes
and states exactly the claims' probabilities. The horizon reads '30d' or '10 events', nothing vaguer."""

from __future__ import annotations

import re
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from agent.forecast.cases import user_logs
from agent.forecast.horizon import Horizon
from agent.forecast.training import ForecastInputs, fit_forecast
from agent.forecast.views import ForecastView
from agent.rankers.artifacts import ArtifactStore
from agent.rankers.behaviour_training import train_behaviour
from agent.service import ShiftRecService
from agent.settings import AgentSettings
from memory.history_view import view_from_events
from memory.service import InterestMemory
from serving.settings import load_settings
from tests.agent.forecast.support import (
    day,
    one_torch_thread,  # noqa: F401  (autouse: fits on one torch thread)
    stable_log,
    two_level_nodes,
)
from tests.agent_support import TINY_SASREC
from tests.memory_support import BagOfWordsEmbedder, event, memory_settings, movie_catalog

DAYS_30 = Horizon(unit="days", size=30)
GENRES = {"com": 24, "sf": 24, "dr": 8}
USERS = 24
EVENTS = 36


def _events() -> list:
    """24 users, a day apart per event: fixed genre mixes, some moving from comedy to sci-fi halfway,
    and one user who stopped early (their latest event is weeks before everyone else's)."""
    rng = np.random.default_rng(21)
    events = []
    for u in range(USERS):
        user = f"u{u:02d}"
        mix = rng.dirichlet([1.0, 1.0, 0.5])
        for i in range(EVENTS):
            if u % 4 == 0:
                mix = np.array([0.8, 0.15, 0.05]) if i < EVENTS // 2 else np.array([0.1, 0.85, 0.05])
            genre = str(rng.choice(list(GENRES), p=mix))
            events.append(event(user, f"{genre}{rng.integers(GENRES[genre])}", i + u / 100, "rate", 4.0))
    events += [event("idle", f"com{i % 24}" if i % 3 else f"dr{i % 8}", i / 2, "rate", 5.0) for i in range(20)]
    return events


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    """(the service before any training: its forecast for one user; the service once a version is trained)."""
    data_dir: Path = tmp_path_factory.mktemp("forecaster")
    memory = InterestMemory.open(memory_settings(data_dir), BagOfWordsEmbedder())
    memory.add_items(movie_catalog())
    memory.ingest(_events(), progress=False)
    base = load_settings(data_dir=data_dir, cache_dir=data_dir / "cache").agent_config
    agent = base.agent.model_copy(update={"train_sequential_if_missing": False, "tune_source_weights": False})
    service = ShiftRecService.create(base.model_copy(update={"agent": agent}), memory, None, echo=lambda line: None)
    before = service.forecast("u01")
    rows = list(memory.event_log())
    inputs = ForecastInputs.from_memory(memory, {row[1] for row in rows}, service.horizon)
    said: list[str] = []
    meta = train_behaviour(rows, ArtifactStore(service.settings.artifacts_dir), service.settings.agent, TINY_SASREC,
                           progress=False, echo=said.append, forecast_inputs=inputs)
    service.updates.check()
    yield before, service, meta, said
    service.close()
    memory.close()


def _forecasts(service: ShiftRecService) -> dict[str, ForecastView]:
    return {user: service.forecast(user) for user in [f"u{u:02d}" for u in range(USERS)] + ["idle"]}


def test_no_forecast_is_served_before_a_version_with_one_is_trained(served):
    before, service, meta, said = served
    assert before is None
    assert meta.forecast and meta.forecast_horizon == service.horizon.key == "10e", said
    assert service.forecaster is not None and service.forecaster.model.version == meta.version


def test_the_served_view_of_a_user_is_the_view_the_forecast_was_fitted_on(served):
    """Serving reads the live memory, fitting the event log and the catalog's chains: the same view of each user."""
    _, service, _, _ = served
    memory = service.memory
    inputs = ForecastInputs.from_memory(memory, {row[1] for row in memory.event_log()}, service.horizon)
    logs = user_logs([(user, item, ts) for user, item, ts, _ in memory.event_log()], inputs.nodes_of)
    assert len(logs) == USERS + 1
    for user, log in logs.items():
        live = memory.history_view(user)
        fitted = view_from_events(user, log.events(len(log.times)), float(log.times[-1]), inputs.window_size)
        assert live.as_of == fitted.as_of and live.events == fitted.events
        assert dict(live.counts) == dict(fitted.counts) and dict(live.last_seen) == dict(fitted.last_seen)
        assert sorted(live.window, key=repr) == sorted(fitted.window, key=repr)


def test_each_level_is_a_distribution_and_each_claim_a_probability(served):
    _, service, _, _ = served
    model = service.forecaster.model
    claimed = 0
    for user, view in _forecasts(service).items():
        assert view.user == user and view.horizon == Horizon(unit="events", size=10) and view.due_at is None
        assert [level.depth for level in view.levels] == sorted(model.levels)
        for level in view.levels:
            shares = [node.share_expected for node in level.nodes]
            assert all(0.0 <= s <= 1.0 for s in shares) and shares == sorted(shares, reverse=True)
            assert sum(shares) + level.other_share == pytest.approx(1.0, abs=1e-3)
            assert len(level.nodes) == min(8, len(model.levels[level.depth].level))
            leads = [node.lead_probability for node in level.nodes]
            assert all(0.0 <= p <= 1.0 for p in leads) and sum(leads) <= 1.0 + 1e-3
        for claim in view.claims:
            assert 0.0 <= claim.probability <= 1.0 and claim.depth == model.claim_depth
            assert claim.direction in ("grow", "shrink")
        claimed += len(view.claims)
        assert view.events_at == (20 if user == "idle" else EVENTS)
    assert claimed >= USERS, "most users get a claim"


def test_the_sentence_names_real_nodes_and_states_exactly_the_claims_probabilities(served):
    _, service, _, _ = served
    catalog = service.memory.catalog
    nodes = catalog.topics()
    for user, view in _forecasts(service).items():
        assert "t:" not in view.text and view.text.startswith("In your next 10 movies: "), view.text
        for level in view.levels:
            for node in level.nodes:
                assert node.id in nodes and node.label == catalog.label(node.id) != node.id and "t:" not in node.label
        for claim in view.claims:
            assert claim.id in nodes and claim.label == nodes[claim.id].label != claim.id
            assert claim.label in view.text
        stated = re.findall(r"(\d+)%", view.text)
        assert stated == [f"{claim.probability * 100:.0f}" for claim in view.claims], (view.text, view.claims)
        if not view.claims:
            assert "no change stands out" in view.text


def test_the_forecast_follows_the_users_who_moved_to_sci_fi(served):
    """Users who moved from comedy to sci-fi halfway: sci-fi is their most likely topic, and is not claimed to grow
    (their last window is already mostly sci-fi)."""
    _, service, _, _ = served
    views = _forecasts(service)
    movers = [views[f"u{u:02d}"] for u in range(0, USERS, 4)]
    for view in movers:
        assert view.levels[0].nodes[0].id == "t:sci-fi", view.levels[0]
    said = {(claim.id, claim.direction) for view in movers for claim in view.claims}
    assert said and ("t:sci-fi", "grow") not in said


def test_a_served_forecast_reads_nothing_after_the_moment_it_says_it_was_made(served):
    _, service, _, _ = served
    view = service.forecast("idle")
    fitted_until = datetime.fromtimestamp(service.forecaster.model.fitted_until, tz=timezone.utc)
    assert view.made_at >= fitted_until, (view.made_at, fitted_until)


# ---------------------------------------------------------------- a catalog with one small, deep, named branch
# (the demo catalog: flat genres whose children are clusters, plus "Books > Fantasy > Epic")

BOOK = frozenset({"t:books", "t:books/fantasy", "t:books/fantasy/epic"})


def _named(node: str) -> bool:
    """Topics and the books' path are named; the genres' children are clusters (as ForecastInputs says)."""
    return node.count("/") == 0 or node.startswith("t:books")


def _genre_log():
    rows, _ = stable_log(users=30, topics=3, months=5, per_month=6, seed=1)
    return rows, {**two_level_nodes(3), "book": BOOK}


def test_one_rare_deep_branch_does_not_stop_the_forecast_for_everyone():
    rows, nodes_of = _genre_log()
    model = fit_forecast([*rows, ("u000", "book", day(100))], nodes_of, DAYS_30, _named)
    assert 0 in model.levels and 1 in model.levels and model.claim_depth in model.levels


def test_claims_speak_of_a_level_that_covers_the_catalog():
    rows, nodes_of = _genre_log()
    readers = [(f"u{u:03d}", "book", day(d + 0.5)) for u in range(25) for d in range(0, 150, 5)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a one-node level's lead softmax over no other node
        model = fit_forecast(rows + readers, nodes_of, DAYS_30, _named)
    assert model.claim_depth == 0, model.levels[model.claim_depth].level.nodes


def test_a_horizon_reads_days_or_events_and_nothing_vaguer():
    assert Horizon.parse("30d") == Horizon(unit="days", size=30) == Horizon.parse(" 30 Days ")
    assert Horizon.parse("10 events") == Horizon(unit="events", size=10) == Horizon.parse("10e")
    assert Horizon.parse("1 day").text("movies") == "in the next day"
    assert Horizon.parse("10 events").text("movies") == "in your next 10 movies"
    assert Horizon.parse("30d").key == "30d" and Horizon.parse("10 events").key == "10e"
    for vague in ("soon", "", "d", "next month", "1.5d", "-3d", "30 weeks"):
        with pytest.raises(ValueError, match=r"e\.g\. '30d'"):
            Horizon.parse(vague)
    with pytest.raises(ValidationError):
        Horizon.parse("0d")


def test_the_settings_refuse_a_vague_horizon_and_keep_a_clear_one():
    with pytest.raises(ValidationError, match=r"forecast horizon 'soon'.*e\.g\. '30d'"):
        AgentSettings(forecast_horizon="soon")
    settings = AgentSettings(forecast_horizon="30 days")
    assert settings.forecast_horizon == "30d" and settings.horizon(repeats=False) == Horizon(unit="days", size=30)
    assert AgentSettings().horizon(repeats=True) == Horizon(unit="days", size=30)
    assert AgentSettings().horizon(repeats=False) == Horizon(unit="events", size=10)
