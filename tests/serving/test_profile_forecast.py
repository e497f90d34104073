"""The profile's forecast through the API (FastAPI's TestClient on the real app): the forecast, its
shift view and the track record, stored once per memory version, scored after its horizon, gone
with the user; and without a forecast, a profile that says so. No text a person reads names a node id."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from agent.forecast.shown import NO_FORECAST
from serving.api_models import ProfileView, ShiftView
from serving.app import create_app
from serving.cli_answers import forecast_lines
from serving.settings import ApiSettings
from tests.agent_support import SchemaLLM, build_service
from tests.forecast_support import ForecastingService, movie_forecast, node_ids_in
from tests.memory_support import T0

ADMIN_KEY = "admin-key-0123456789abcdef"
ANA_KEY = "ana-key-0123456789abcdef"
API = ApiSettings(admin_key=ADMIN_KEY, user_keys={ANA_KEY: "ana"}, ui=False)


def clients(service) -> tuple[TestClient, TestClient]:
    app = create_app(service, API)
    return (TestClient(app, headers={"Authorization": f"Bearer {ANA_KEY}"}),
            TestClient(app, headers={"Authorization": f"Bearer {ADMIN_KEY}"}))


@pytest.fixture
def forecasting(tmp_path: Path) -> Iterator[ForecastingService]:
    service = build_service(tmp_path, SchemaLLM(), service_class=ForecastingService)
    yield service
    service.close()


def sci_fi_events(days: range) -> list[dict]:
    return [{"user": "ana", "item": f"sf{day}", "action": "rate", "value": 5,
             "timestamp": (T0 + timedelta(days=day)).isoformat()} for day in days]


def test_the_profile_shows_the_forecast_its_probability_and_horizon(forecasting: ForecastingService):
    ana, _ = clients(forecasting)
    view = ana.get("/users/ana/profile").json()
    forecast = view["forecast"]
    assert forecast["text"] == "In your next 3 movies: Sci-Fi 70% likely to grow, Comedy 65% likely to shrink, " \
                               "Drama 20% likely to grow."
    shift = view["predicted_shift"]
    assert (shift["from_label"], shift["to_label"], shift["confidence"]) == ("Comedy", "Sci-Fi", 0.7)
    assert shift["rationale"] == forecast["text"] and shift["horizon_text"] == "in your next 3 movies"
    assert view["details"]["forecast"] is None  # once, at the top
    assert view["track_record"]["text"] == "No earlier forecast has reached its horizon yet."
    assert node_ids_in(view) == []


def test_a_forecast_shown_twice_is_stored_once_and_scored_after_its_horizon(forecasting: ForecastingService):
    ana, admin = clients(forecasting)
    ana.get("/users/ana/profile")
    assert ana.get("/users/ana/profile").json()["track_record"]["forecasts_made"] == 1  # same memory version
    assert admin.post("/events", json={"events": sci_fi_events(range(20, 23))}).json()["applied"] == 3
    view = ana.get("/users/ana/profile").json()
    record = view["track_record"]
    assert (record["forecasts_made"], record["forecasts_scored"]) == (2, 1)  # the new one waits for its horizon
    assert record["text"] == "Earlier forecasts: 2 of 3 claims came true (stated 52% on average)."
    assert [(c["label"], c["came_true"]) for c in record["latest"][0]["claims"]] == [
        ("Sci-Fi", True), ("Comedy", True), ("Drama", False)]
    assert node_ids_in(view) == []


def test_deleting_the_user_deletes_their_forecasts(forecasting: ForecastingService):
    ana, admin = clients(forecasting)
    ana.get("/users/ana/profile")
    assert admin.delete("/users/ana").json()["records_removed"] == 2  # the forecast shown and the cached profile
    assert forecasting.book.stored("ana") == []
    assert ana.get("/users/ana/profile").status_code == 404


def test_without_a_forecast_the_profile_says_so_and_states_no_confidence(tmp_path: Path):
    service = build_service(tmp_path, SchemaLLM())
    ana, _ = clients(service)
    view = ana.get("/users/ana/profile").json()
    shift = view["predicted_shift"]
    assert view["forecast"] is None and shift["confidence"] is None and shift["horizon_text"] is None
    assert shift["rationale"] == NO_FORECAST and shift["to_label"] in view["details"]["labels"].values()
    assert view["track_record"] is None or view["track_record"]["forecasts_made"] == 0
    assert node_ids_in(view) == []
    service.close()


def test_a_forecast_that_claims_nothing_names_the_leaders_without_a_confidence(forecasting: ForecastingService):
    result = forecasting.profiler.profile("ana")
    quiet = movie_forecast("ana", result.created_at, 20, forecasting.HORIZON, claims=[])
    shift = ShiftView.of(result.model_copy(update={"forecast": quiet}))
    assert (shift.from_label, shift.to_label, shift.confidence) == ("Comedy", "Sci-Fi", None)
    assert shift.rationale == "In your next 3 movies: no change stands out; your mix is expected to stay as it is."


def test_node_ids_in_llm_text_and_labels_are_replaced_by_labels(forecasting: ForecastingService):
    result = forecasting.profile("ana")
    leaky = result.model_copy(update={"profile": result.profile.model_copy(
        update={"profile": "Mostly t:comedy, lately t:sci-fi/s2 and t:westerns/s1."})})
    view = ProfileView.of(leaky, forecasting.memory.digest("ana").long_term)
    sub = result.labels["t:sci-fi/s2"]
    assert view.text == f"Mostly Comedy, lately {sub} and Westerns."  # a node without a label: its id's words
    assert node_ids_in(view.model_dump(mode="json")) == []


def test_the_cli_prints_the_forecast_its_shares_and_the_track_record(forecasting: ForecastingService):
    view = ProfileView.of(forecasting.profile("ana"), forecasting.memory.digest("ana").long_term)
    lines = forecast_lines(view)
    assert lines[0] == f"forecast: {view.forecast.text}"
    assert lines[1].split() == ["interest", "now", "expected", "in", "your", "next", "3", "movies"]
    assert [line.split() for line in lines[2:5]] == [["Sci-Fi", "20%", "50%"], ["Comedy", "80%", "40%"],
                                                     ["Drama", "0%", "5%"]]
    assert lines[-1] == "No earlier forecast has reached its horizon yet." and not node_ids_in(lines)


def test_the_cli_says_when_there_is_no_forecast(tmp_path: Path):
    service = build_service(tmp_path, None)
    view = ProfileView.of(service.profile("ana"), service.memory.digest("ana").long_term)
    assert forecast_lines(view)[0] == f"forecast: {NO_FORECAST}"
    service.close()
