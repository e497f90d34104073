"""The forecasts shown, stored in the user's Chroma rows and scored once their horizon has passed:
by hand-made events whose outcome is known, for an event and a day horizon; stored once, never
scored early or twice, deleted with the user, and never seen by another user."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from agent.explain.records import RecordBook, UnknownRecordError
from agent.forecast.horizon import Horizon
from agent.forecast.track_record import ForecastBook, forecast_row_id
from memory.service import InterestMemory
from memory.store import RECORDS
from tests.forecast_support import movie_forecast
from tests.memory_support import at, event, open_memory

EVENTS_3 = Horizon(unit="events", size=3)
DAYS_30 = Horizon(unit="days", size=30)


@pytest.fixture
def memory(tmp_path: Path) -> InterestMemory:
    opened = open_memory(tmp_path)
    opened.ingest([event("ana", f"com{i}", i) for i in range(10)], progress=False)
    opened.ingest([event("bob", f"com{i}", i) for i in range(10)], progress=False)
    return opened


def shown(memory: InterestMemory, user: str, horizon: Horizon):
    """The forecast a profile of ``user`` shows now (made at their latest event), stored."""
    book = ForecastBook(memory)
    forecast = movie_forecast(user, at(9), events_at=10, horizon=horizon, memory_version=memory.memory_version(user))
    assert book.save(forecast)
    return book, forecast


def test_an_event_horizon_is_scored_once_its_events_are_logged(memory: InterestMemory):
    book, _ = shown(memory, "ana", EVENTS_3)
    record = book.track_record("ana")
    assert (record.forecasts_made, record.forecasts_scored) == (1, 0)
    assert record.text == "No earlier forecast has reached its horizon yet."
    memory.ingest([event("ana", "sf1", 10), event("ana", "sf2", 11)], progress=False)
    assert book.track_record("ana").forecasts_scored == 0  # two of its three events
    memory.ingest([event("ana", "com11", 12), event("ana", "dr1", 13)], progress=False)  # the drama is 4th
    record = book.track_record("ana")
    assert (record.forecasts_scored, record.claims_scored, record.claims_came_true) == (1, 3, 2)
    latest = record.latest[0]
    assert {c.label: (c.share_realised, c.came_true) for c in latest.claims} == {
        "Sci-Fi": (0.6667, True), "Comedy": (0.3333, True), "Drama": (0.0, False)}
    assert record.mean_stated_probability == round((0.7 + 0.65 + 0.2) / 3, 4) and record.lead_hit_rate == 1.0
    assert record.text == "Earlier forecasts: 2 of 3 claims came true (stated 52% on average)."
    assert latest.text.startswith("In your next 3 movies: Sci-Fi 70% likely to grow")


def test_a_day_horizon_is_scored_after_its_end_from_the_events_inside_it(memory: InterestMemory):
    book, forecast = shown(memory, "bob", DAYS_30)
    assert forecast.due_at == at(39)
    memory.ingest([event("bob", "sf1", 12), event("bob", "sf2", 20), event("bob", "dr1", 45)], progress=False)
    assert book.track_record("bob", now=at(38)).forecasts_scored == 0
    record = book.track_record("bob", now=at(39))
    # sci-fi 2 of 2 > 0.2; comedy 0 < 0.8; the drama came after the horizon's end
    assert {c.label: c.came_true for c in record.latest[0].claims} == {"Sci-Fi": True, "Comedy": True,
                                                                        "Drama": False}
    assert record.latest[0].events == 2


def test_without_a_clock_a_day_horizon_waits_for_the_users_own_time_to_pass_it(memory: InterestMemory):
    book, _ = shown(memory, "bob", DAYS_30)
    memory.ingest([event("bob", "sf1", 12), event("bob", "sf2", 38)], progress=False)
    assert book.track_record("bob").forecasts_scored == 0  # their latest event is before the end
    memory.ingest([event("bob", "dr1", 40)], progress=False)
    assert book.track_record("bob").claims_came_true == 2


def test_a_score_is_stored_once_and_never_recomputed(memory: InterestMemory):
    book, forecast = shown(memory, "ana", EVENTS_3)
    memory.ingest([event("ana", f"sf{i}", 10 + i) for i in range(3)], progress=False)
    first = book.track_record("ana")
    stored = book.stored("ana")[0]
    assert stored.score is not None and stored.scored_at is not None
    memory.ingest([event("ana", f"dr{i}", 20 + i) for i in range(5)], progress=False)
    again = book.track_record("ana")
    assert again == first and book.stored("ana")[0].scored_at == stored.scored_at
    assert not book.save(forecast)  # shown again: already stored, its score kept
    assert book.stored("ana")[0].score == stored.score


def test_a_forecast_shown_twice_is_stored_once(memory: InterestMemory):
    book, forecast = shown(memory, "ana", EVENTS_3)
    later = forecast.model_copy(update={"made_at": forecast.made_at + timedelta(hours=1)})
    assert not book.save(later) and not book.save(forecast)
    assert memory.store.count_user_rows("ana")[RECORDS] == 1 and len(book.stored("ana")) == 1
    other_model = forecast.model_copy(update={"model_version": "fc-next"})
    assert book.save(other_model) and book.track_record("ana").forecasts_made == 2


def test_forecasts_are_deleted_with_the_user(memory: InterestMemory):
    book, _ = shown(memory, "ana", EVENTS_3)
    report = memory.delete_user("ana")
    assert report.records_removed == 1 and book.stored("ana") == []
    memory.ingest([event("ana", "sf1", 50)], progress=False)
    assert book.track_record("ana").forecasts_made == 0


def test_each_user_sees_only_their_own_forecasts(memory: InterestMemory):
    book, ana_forecast = shown(memory, "ana", EVENTS_3)
    assert book.stored("bob") == [] and book.track_record("bob").forecasts_made == 0
    bob_forecast = ana_forecast.model_copy(update={"user": "bob"})  # the same versions: another row
    assert book.save(bob_forecast)
    ana_id = forecast_row_id("ana", ana_forecast.memory_version, ana_forecast.model_version)
    assert ana_id != forecast_row_id("bob", ana_forecast.memory_version, ana_forecast.model_version)
    assert memory.store.user_record("bob", ana_id) is None
    memory.ingest([event("bob", f"sf{i}", 10 + i) for i in range(3)], progress=False)
    assert book.track_record("bob").forecasts_scored == 1 and book.track_record("ana").forecasts_scored == 0
    assert [s.forecast.user for s in book.stored("ana")] == ["ana"]


def test_recommendation_records_never_read_a_forecast_row(memory: InterestMemory):
    book, forecast = shown(memory, "ana", EVENTS_3)
    records = RecordBook(memory.store)
    assert records.latest("ana") == [] and records.find_by_title("ana", "Comedy 1") is None
    with pytest.raises(UnknownRecordError):
        records.get("ana", forecast_row_id("ana", forecast.memory_version, forecast.model_version))


def test_rows_hold_the_forecast_json_and_when_it_was_made_and_is_due(memory: InterestMemory):
    _, forecast = shown(memory, "bob", DAYS_30)
    row = memory.store.user_record("bob", forecast_row_id("bob", forecast.memory_version, forecast.model_version))
    assert row.metadata["kind"] == "forecast" and row.metadata["user"] == "bob" and not row.metadata["scored"]
    assert row.metadata["made"] == at(9).timestamp() and row.metadata["due"] == at(39).timestamp()
    assert datetime.fromtimestamp(row.metadata["made"], tz=timezone.utc) == forecast.made_at


def test_the_export_holds_the_forecasts_shown(memory: InterestMemory):
    _, forecast = shown(memory, "ana", EVENTS_3)
    exported = memory.export_user("ana").records
    assert [entry["forecast"]["text"] for entry in exported if "forecast" in entry] == [forecast.text]
