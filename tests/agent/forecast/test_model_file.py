"""The fitted forecast on disk: a save and load serves the same forecast; a damaged file is refused with
a message that says to retrain (and the service goes on without a forecast rather than failing)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from agent.forecast.cases import user_logs
from agent.forecast.features import user_vectors
from agent.forecast.forecaster import Forecaster
from agent.forecast.horizon import Horizon
from agent.forecast.model_file import ARRAYS, META, ForecastFileError, ForecastModel
from agent.forecast.shift_claims import claims
from agent.forecast.training import fit_forecast
from agent.model_updates import served_forecast
from agent.rankers.artifacts import ArtifactMeta, ArtifactStore
from memory.domain import GENERIC_WORDS
from memory.history_view import HistoryView, view_from_events
from tests.agent.forecast.support import (
    one_torch_thread,  # noqa: F401  (autouse: fits on one torch thread)
    stable_log,
    two_level_nodes,
)

DAYS_30 = Horizon(unit="days", size=30)


@pytest.fixture(scope="module")
def fitted() -> tuple[ForecastModel, list[HistoryView]]:
    rows, _ = stable_log(users=30, topics=3, months=5, per_month=6, seed=1)
    nodes_of = two_level_nodes(3)
    model = fit_forecast(rows, nodes_of, DAYS_30, lambda node: True)
    views = [view_from_events(user, log.events(len(log.times)), float(log.times[-1]), 200)
             for user, log in sorted(user_logs(rows, nodes_of).items())]
    return model, views


def _meta(version: str, forecast: ForecastModel | None) -> ArtifactMeta:
    return ArtifactMeta(version=version, trained_at=datetime(2026, 1, 1, tzinfo=timezone.utc), log_fingerprint="f",
                        events=1, users=1, items=1, sequential=False, seconds=0.1, forecast=forecast is not None,
                        forecast_horizon=forecast.horizon.key if forecast else None)


def _assert_same_forecasts(first: ForecastModel, second: ForecastModel, views: list[HistoryView]) -> None:
    assert first.levels.keys() == second.levels.keys() and first.claim_depth == second.claim_depth
    assert first.horizon == second.horizon and first.fitted_until == second.fitted_until
    claimed = 0
    for depth, level in first.levels.items():
        other = second.levels[depth]
        assert other.level == level.level and other.leader_discount == level.leader_discount
        for view in views:
            user = user_vectors(view, level.level, first.horizon)
            p = level.distribution(user, first.populations[depth])
            q = other.distribution(user, second.populations[depth])
            # transitions are stored as float32: equal to ~1e-9, not to the last bit
            np.testing.assert_allclose(q, p, rtol=1e-6, atol=1e-9)
            np.testing.assert_allclose(other.lead_probability(user, q), level.lead_probability(user, p),
                                       rtol=1e-6, atol=1e-9)
            made, loaded = claims(level, user, p), claims(other, user, q)
            assert [(c.node, c.direction) for c in made] == [(c.node, c.direction) for c in loaded]
            np.testing.assert_allclose([c.probability for c in loaded], [c.probability for c in made], rtol=1e-6)
            claimed += len(made)
    assert claimed > 0, "the round trip compared some claims"


def test_a_saved_forecast_loads_to_the_same_distributions_claims_and_lead_probabilities(fitted, tmp_path: Path):
    model, views = fitted
    model.save(tmp_path)
    loaded = ForecastModel.load(tmp_path, "v7")
    assert loaded.version == "v7" and loaded.validation == model.validation
    _assert_same_forecasts(model, loaded, views)
    label = str.upper
    ours, theirs = Forecaster(model, label, GENERIC_WORDS), Forecaster(loaded, label, GENERIC_WORDS)
    for view in views[:10]:
        before, after = ours.forecast(view, "m1"), theirs.forecast(view, "m1")
        assert after.model_version == "v7"
        assert after.model_copy(update={"model_version": before.model_version}) == before


def test_an_artifact_version_publishes_its_forecast_and_reads_it_back(fitted, tmp_path: Path):
    model, views = fitted
    store = ArtifactStore(tmp_path)
    meta = _meta("v1", model)
    store.publish(meta, None, model)
    assert store.current() == meta and meta.forecast_horizon == "30d"
    served = store.forecast(meta)
    assert served is not None and served.version == "v1"
    _assert_same_forecasts(model, served, views[:8])
    bare = _meta("v2", None)
    store.publish(bare, None)
    assert store.forecast(bare) is None and not (tmp_path / "v2" / ARRAYS).exists()


def test_served_forecast_refuses_another_horizon_and_reads_nothing_without_one(fitted, tmp_path: Path):
    model, _ = fitted
    store = ArtifactStore(tmp_path)
    meta = _meta("v1", model)
    store.publish(meta, None, model)
    said: list[str] = []
    assert served_forecast(store, meta, Horizon(unit="events", size=10), said.append) is None
    assert len(said) == 1 and "30d" in said[0] and "10e" in said[0] and "shiftrec train" in said[0]
    assert served_forecast(store, meta, Horizon.parse("30 days"), said.append) is not None and len(said) == 1
    bare = _meta("v2", None)
    store.publish(bare, None)
    assert served_forecast(store, bare, DAYS_30, said.append) is None and len(said) == 1


def _rewrite_json(change):
    def damage(folder: Path) -> None:
        meta = json.loads((folder / META).read_text())
        (folder / META).write_text(json.dumps(change(meta)))
    return damage


def _drop_array(name: str):
    def damage(folder: Path) -> None:
        with np.load(folder / ARRAYS) as saved:
            kept = {key: saved[key] for key in saved.files if key != name}
        np.savez_compressed(folder / ARRAYS, **kept)
    return damage


DAMAGE = {
    "no forecast.json": lambda folder: (folder / META).unlink(),
    "no forecast.npz": lambda folder: (folder / ARRAYS).unlink(),
    "forecast.json not json": lambda folder: (folder / META).write_text("{not json"),
    "another format": _rewrite_json(lambda meta: {**meta, "format": "shiftrec-forecast/0"}),
    "a depth without arrays": _rewrite_json(lambda meta: {**meta, "depths": [*meta["depths"], 7]}),
    "an array missing": _drop_array("1.grow"),
    "forecast.npz truncated": lambda folder: (folder / ARRAYS).write_bytes((folder / ARRAYS).read_bytes()[:300]),
    "forecast.npz empty": lambda folder: (folder / ARRAYS).write_bytes(b""),
    "forecast.json a list": lambda folder: (folder / META).write_text("[]"),
    "no claim depth": _rewrite_json(lambda meta: {k: v for k, v in meta.items() if k != "claim_depth"}),
    "an unknown horizon": _rewrite_json(lambda meta: {**meta, "horizon": {"unit": "weeks", "size": 2}}),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_forecast_file_is_refused_with_a_message_to_retrain(fitted, tmp_path: Path, damage: str):
    model, _ = fitted
    model.save(tmp_path)
    DAMAGE[damage](tmp_path)
    try:
        ForecastModel.load(tmp_path, "v1")
    except ForecastFileError as error:
        assert "retrain" in str(error)
    except Exception as error:  # noqa: BLE001 - any other error is what the test is about
        raise AssertionError(f"{damage}: {type(error).__name__} ({error}) instead of ForecastFileError") from error
    else:
        raise AssertionError(f"{damage}: the damaged forecast loaded")


@pytest.mark.parametrize("damage", [
    "no forecast.npz", "forecast.npz truncated"])
def test_a_version_whose_forecast_cannot_be_read_serves_none_and_says_so(fitted, tmp_path: Path, damage: str):
    model, _ = fitted
    store = ArtifactStore(tmp_path)
    meta = _meta("v1", model)
    store.publish(meta, None, model)
    DAMAGE[damage](tmp_path / "v1")
    said: list[str] = []
    try:
        served = served_forecast(store, meta, DAYS_30, said.append)
    except Exception as error:  # noqa: BLE001
        raise AssertionError(f"served_forecast raised {type(error).__name__}: {error}") from error
    assert served is None and len(said) == 1 and "could not be read" in said[0] and "retrain" in said[0]
