"""The interest memory end to end, on embedded Chroma and (integration) on a `chroma run` server."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from memory.ingest import ConcurrentWriteError, IngestError, MemoryWriteError
from memory.models import Event
from memory.service import InterestMemory
from memory.service_models import EMPTY_VERSION, UnknownUserError
from memory.state_rows import user_key
from tests.memory_support import at, comedy_then_scifi, event, open_memory


@pytest.fixture
def memory(memory_backend: str | None, tmp_path: Path) -> InterestMemory:
    return open_memory(tmp_path, memory_backend)


def test_a_move_from_comedy_to_scifi_shows_scifi_rising_and_comedy_fading(memory: InterestMemory):
    memory.ingest(comedy_then_scifi("ana"), progress=False)
    digest = memory.digest("ana")
    trend = {node.id: node.trend for node in digest.long_term}
    assert trend["t:sci-fi"] > 0.3 and trend["t:comedy"] < -0.3
    assert digest.rising[0].id == "t:sci-fi" and digest.fading[0].id == "t:comedy"
    assert digest.short_term[0].id == "t:sci-fi"
    shift = digest.shift
    assert (shift.from_node, shift.to_node) == ("t:comedy", "t:sci-fi") and shift.confidence > 0.5
    assert shift.to_subtopic and shift.to_subtopic.startswith("t:sci-fi/")
    items = {e.id: e.item for e in comedy_then_scifi("ana")}
    assert shift.evidence and all(items[event_id].startswith("sf") for event_id in shift.evidence)
    comedy = next(node for node in digest.long_term if node.id == "t:comedy")
    assert comedy.children and all(child.parent == "t:comedy" for child in comedy.children)
    assert comedy.events == 20 and comedy.first_seen == at(0) and comedy.last_seen == at(19)


def test_old_interests_decay_with_time(memory: InterestMemory):
    memory.ingest([event("bo", f"com{index}", index) for index in range(5)], progress=False)
    now = memory.digest("bo").long_term[0]
    half_a_year_later = memory.digest("bo", as_of=at(4 + 180)).long_term[0]
    assert half_a_year_later.strength == pytest.approx(now.strength / 2, rel=1e-6)  # 180-day half-life
    assert memory.digest("bo", as_of=at(4 + 180)).short_term == [], "three-day half-life: nothing is recent"


def test_memory_cannot_be_read_before_its_latest_event(memory: InterestMemory):
    memory.record(event("bo", "com1", 5))
    with pytest.raises(ValueError, match="before the user's latest event"):
        memory.digest("bo", as_of=at(4))


def test_dislikes_lower_strength(memory: InterestMemory):
    memory.ingest([event("cy", f"sf{index}", 0) for index in range(3)], progress=False)
    before = memory.digest("cy").long_term[0].strength
    memory.record(event("cy", "sf5", 0, action="dislike"))
    after = memory.digest("cy").long_term[0]
    assert after.strength == pytest.approx(before - 2.0) and after.negative_events == 1


def test_ratings_map_to_signed_weights(memory: InterestMemory):
    ratings = [("dr0", 5), ("dr1", 1), ("dr2", 3), ("dr3", 4.4)]  # +2, -2, +0.25, nearest key 4: +1
    memory.ingest([event("rui", item, 0, action="rate", value=value) for item, value in ratings], progress=False)
    drama = memory.digest("rui").long_term[0]
    assert drama.strength == pytest.approx(1.25) and drama.negative_events == 1
    weights = {row["item"]: row["weight"] for row in memory.export_user("rui").events}
    assert weights == {"dr0": 2.0, "dr1": -2.0, "dr2": 0.25, "dr3": 1.0}


def test_a_rating_outside_the_scale_is_refused_and_nothing_of_its_batch_is_stored(memory: InterestMemory):
    batch = [event("ros", "dr0", 0, action="rate", value=4), event("ros", "dr1", 1, action="rate", value=1e308)]
    with pytest.raises(IngestError, match=r"event #1 .*field 'value': rating 1e\+308 is outside this catalog's "
                                          r"rating scale 1 to 5 \(SHIFTREC_MEMORY__RATING_SCALE\)"):
        memory.ingest(batch, progress=False)
    with pytest.raises(IngestError, match="rating 0 is outside"):
        memory.record(event("ros", "dr2", 2, action="rate", value=0))
    assert memory.memory_version("ros") == EMPTY_VERSION


def test_a_catalog_scale_maps_its_ratings_onto_the_five_weights(tmp_path: Path):
    ten_point = open_memory(tmp_path, rating_scale=(0.0, 10.0))
    ratings = [("dr0", 10), ("dr1", 0), ("dr2", 5), ("dr3", 8)]  # on 1-5: 5, 1, 3, 4.2
    ten_point.ingest([event("tia", item, 0, action="rate", value=value) for item, value in ratings], progress=False)
    weights = {row["item"]: row["weight"] for row in ten_point.export_user("tia").events}
    assert weights == {"dr0": 2.0, "dr1": -2.0, "dr2": 0.25, "dr3": 1.0}
    with pytest.raises(IngestError, match="rating 11 is outside this catalog's rating scale 0 to 10"):
        ten_point.ingest([event("tia", "dr4", 1, action="rate", value=11)], progress=False)


def test_resending_event_ids_changes_nothing(memory: InterestMemory):
    events = comedy_then_scifi("di", per_genre=5)
    first = memory.ingest(events + events[:3], progress=False)  # repeats inside one batch too
    assert (first.applied, first.duplicates) == (10, 3)
    version, digest = memory.memory_version("di"), memory.digest("di")
    again = memory.ingest(events, progress=False)
    assert (again.applied, again.duplicates) == (0, 10)
    assert memory.record(events[0]).applied is False
    assert memory.memory_version("di") == version and memory.digest("di") == digest
    assert memory.store.count_user_rows("di")["memory_events"] == 10


def test_out_of_order_events_give_the_same_memory_as_in_order(memory: InterestMemory):
    timeline = comedy_then_scifi("x", per_genre=12) + [event("x", "sf3", 30.01, action="dislike")]

    def as_user(user: str, events: list[Event]) -> list[Event]:
        return [e.model_copy(update={"user": user, "id": f"k{e.timestamp.timestamp()}-{e.item}"}) for e in events]

    memory.ingest(as_user("ordered", timeline), progress=False)
    shuffled = as_user("shuffled", timeline)
    random.Random(1).shuffle(shuffled)
    memory.ingest(shuffled[:10], progress=False)
    for late in shuffled[10:]:  # the rest one by one, in random order
        memory.record(late)
    ordered = memory.digest("ordered").model_dump(exclude={"user"})
    mixed = memory.digest("shuffled").model_dump(exclude={"user"})
    assert json.dumps(mixed, default=str) == json.dumps(ordered, default=str)


def test_a_rebuild_from_the_event_log_equals_the_incremental_state(memory: InterestMemory):
    memory.ingest(comedy_then_scifi("ray", per_genre=6)[::-1], progress=False)
    memory.record(event("ray", "dr1", 30, action="skip"))
    incremental = memory.digest("ray")
    memory.rebuild_user("ray")
    assert memory.digest("ray") == incremental
    assert InterestMemory.open(memory.settings, memory.embedder).digest("ray") == incremental


def test_memory_version_changes_on_every_applied_event(memory: InterestMemory):
    assert memory.memory_version("ed") == EMPTY_VERSION
    seen = {EMPTY_VERSION}
    for index in range(4):
        result = memory.record(event("ed", f"dr{index}", index))
        assert result.applied and result.version not in seen
        seen.add(result.version)
    assert memory.memory_version("ed") == result.version


def test_a_batch_with_an_unknown_item_writes_nothing(memory: InterestMemory):
    batch = [event("fay", "com1", 0), event("fay", "no-such-film", 1, id="bad-one"), event("fay", "com2", 2)]
    with pytest.raises(
        IngestError, match=r"event #1 \(id 'bad-one', user 'fay'\): item 'no-such-film' is not in the catalog"
    ):
        memory.ingest(batch, progress=False)
    assert memory.store.count_user_rows("fay") == {"memory_events": 0, "memory_state": 0, "recommendation_records": 0}
    assert memory.memory_version("fay") == EMPTY_VERSION


def test_a_batch_whose_events_cannot_be_stored_leaves_no_trace(memory: InterestMemory, monkeypatch: pytest.MonkeyPatch):
    memory.ingest(comedy_then_scifi("gil", per_genre=4), progress=False)
    version, digest = memory.memory_version("gil"), memory.digest("gil")

    def failing_add(rows):
        raise OSError("disk full")

    with monkeypatch.context() as patch:
        patch.setattr(memory.store, "add_events", failing_add)
        with pytest.raises(MemoryWriteError, match="nothing was written: disk full"):
            memory.ingest([event("gil", "dr1", 40), event("hal", "dr2", 40)], progress=False)
    assert memory.store.count_user_rows("hal") == {"memory_events": 0, "memory_state": 0, "recommendation_records": 0}
    assert memory.store.count_user_rows("gil")["memory_events"] == 8
    assert memory.memory_version("gil") == version and memory.digest("gil") == digest
    assert memory.record(event("gil", "dr1", 40)).applied, "the refused event can be sent again"


def test_a_failed_checkpoint_loses_nothing(memory: InterestMemory, monkeypatch: pytest.MonkeyPatch, caplog):
    memory.ingest(comedy_then_scifi("gus", per_genre=4), progress=False)

    def failing_upsert(rows):
        raise OSError("disk full")

    with monkeypatch.context() as patch:
        patch.setattr(memory.store, "upsert_state", failing_upsert)
        report = memory.ingest([event("gus", "dr1", 40), event("gus", "dr2", 41)], progress=False)
    assert report.applied == 2 and "checkpoint of 1 user(s) failed" in caplog.text
    other = InterestMemory.open(memory.settings, memory.embedder)  # reads the stale checkpoint + the log
    assert other.digest("gus") == memory.digest("gus") and other.digest("gus").events == 10
    memory.flush()
    assert InterestMemory.open(memory.settings, memory.embedder).digest("gus") == memory.digest("gus")


def test_online_events_are_checkpointed_in_groups_and_replayed_on_load(memory_backend: str | None, tmp_path: Path):
    memory = open_memory(tmp_path, memory_backend, state_checkpoint_events=4)
    for index in range(6):
        memory.record(event("hugo", f"sf{index}", index))
    profile = memory.store.get_state([f"profile:{user_key('hugo')}"])
    assert [row.metadata["events"] for row in profile.values()] == [4], "checkpoint after 4, two events pending"
    fresh = InterestMemory.open(memory.settings, memory.embedder)
    assert fresh.digest("hugo") == memory.digest("hugo") and fresh.digest("hugo").events == 6
    memory.close()
    profile = memory.store.get_state([f"profile:{user_key('hugo')}"])
    assert [row.metadata["events"] for row in profile.values()] == [6]


def test_deleting_a_user_leaves_nothing_at_any_level(memory: InterestMemory):
    memory.ingest(comedy_then_scifi("ivy", per_genre=5) + comedy_then_scifi("joe", per_genre=3), progress=False)
    report = memory.delete_user("ivy")
    assert (report.events_removed, report.state_rows_removed) == (10, 1 + 2 + 10)  # profile, 2 topics, 10 sessions
    assert memory.store.count_user_rows("ivy") == {"memory_events": 0, "memory_state": 0, "recommendation_records": 0}
    vector = memory.item_vectors(["sf1"])["sf1"]
    assert memory.search_history("ivy", vector) == []
    assert memory.seen_items("ivy") == set() and memory.memory_version("ivy") == EMPTY_VERSION
    with pytest.raises(UnknownUserError, match="'ivy' has no events"):
        memory.summary("ivy")
    with pytest.raises(UnknownUserError):
        memory.interest_vectors("ivy")
    assert memory.digest("joe").events == 6, "other users are untouched"


def test_memory_reloads_from_chroma_in_a_new_store_object(memory_backend: str | None, tmp_path: Path):
    first = open_memory(tmp_path, memory_backend)
    first.ingest(comedy_then_scifi("kim", per_genre=8), progress=False)
    digest, version = first.digest("kim"), first.memory_version("kim")
    second = InterestMemory.open(first.settings, first.embedder)  # nothing shared but the store on disk / server
    assert second.memory_version("kim") == version
    assert second.digest("kim") == digest
    later = event("kim", "dr3", 17)
    first.record(later)
    assert second.memory_version("kim") == first.memory_version("kim"), "the other process sees the change"
    assert second.digest("kim") == first.digest("kim")


def test_summary_is_deterministic_within_budget_and_cites_real_ids(memory: InterestMemory):
    memory.ingest(comedy_then_scifi("lea"), progress=False)
    event_ids = {e.id for e in comedy_then_scifi("lea")}
    for budget in (60, 150, 400, 2000):
        summary = memory.summary("lea", token_budget=budget)
        assert 0 < summary.tokens <= budget
        assert memory.summary("lea", token_budget=budget).text == summary.text
        nodes = set(re.findall(r"\[(t:[^\]]+)\]", summary.text))
        assert nodes <= set(summary.digest.node_ids)
        cited = set(re.findall(r"\[(e-[0-9a-f]+)\]", summary.text))
        assert cited <= set(summary.digest.event_ids) <= event_ids
    small, large = memory.summary("lea", token_budget=60).text, memory.summary("lea", token_budget=2000).text
    assert small.splitlines()[0] == large.splitlines()[0] and "Predicted next shift" in large
    assert "[t:comedy] Comedy" in large and "Recent sessions" in large and "Fading: [t:comedy]" in large


def test_history_search_finds_the_users_own_events_by_meaning(memory: InterestMemory):
    memory.ingest(comedy_then_scifi("max") + comedy_then_scifi("ned"), progress=False)
    hits = memory.search_history("max", "robot uprising future", k=3)
    assert len(hits) == 3 and all("robot" in hit.title for hit in hits)
    assert [hit.similarity for hit in hits] == sorted((hit.similarity for hit in hits), reverse=True)
    own = {e.id for e in comedy_then_scifi("max")}
    assert {hit.event_id for hit in memory.search_history("max", "laugh", k=50)} <= own


def test_interest_vectors_and_catalog_queries(memory: InterestMemory):
    memory.ingest(comedy_then_scifi("ola", per_genre=6), progress=False)
    long_term = memory.interest_vectors("ola", "long_term")
    assert [vector.node_id for vector in long_term] == ["t:sci-fi", "t:comedy"]  # same count, comedy decayed more
    rising = memory.interest_vectors("ola", "rising")
    assert rising[0].node_id == "t:sci-fi" and rising[0].weight > 0
    short = memory.interest_vectors("ola", "short_term", k=1)
    assert short[0].node_id == "t:sci-fi"
    seen = memory.seen_items("ola")
    assert seen == {f"com{i}" for i in range(6)} | {f"sf{i}" for i in range(6)}
    near = memory.nearest_items(rising[0].vector, k=5, exclude=seen)
    assert len(near) == 5 and not {match.item_id for match in near} & seen
    within = memory.nearest_items(rising[0].vector, k=30, within="t:comedy")
    assert within and all(match.item_id.startswith("com") or match.item_id == "cross" for match in within)
    items = memory.get_items(["sf1", "book-f", "nope"])
    assert set(items) == {"sf1", "book-f"} and items["book-f"].categories == ["Books > Fantasy > Epic"]
    assert memory.item_vectors(["sf1"])["sf1"].shape == (memory.embedder.dimension,)


def test_export_holds_every_event_and_interest_as_json(memory: InterestMemory):
    events = comedy_then_scifi("pia", per_genre=4)
    memory.ingest(events, progress=False)
    exported = json.loads(memory.export_user("pia").model_dump_json())
    assert [row["event_id"] for row in exported["events"]] == [e.id for e in events]
    assert {node["id"] for node in exported["interests"]} == set(exported["digest"]["node_ids"])
    assert exported["version"] == memory.memory_version("pia")


def test_iso_and_epoch_timestamps_are_the_same_moment(memory: InterestMemory):
    memory.record(Event(user="quin", item="dr1", action="view", timestamp="2024-01-01T14:00:00+02:00"))
    memory.record(Event(user="quin", item="dr2", action="view", timestamp=1704110400))  # 12:00 UTC, epoch
    session = memory.digest("quin").sessions[0]
    assert session.events == 2 and session.start == session.end == at(0.5)


def test_events_logged_by_another_process_are_folded_in_before_the_next_write(memory: InterestMemory):
    memory.record(event("zed", "sf1", 0))
    rival = InterestMemory.open(memory.settings, memory.embedder)
    rival.record(event("zed", "sf2", 1))  # logged as zed's 2nd event while `memory` still caches one
    assert memory.record(event("zed", "sf3", 2)).applied
    assert memory.digest("zed").events == 3 and rival.digest("zed") == memory.digest("zed")
    assert memory.seen_items("zed") == {"sf1", "sf2", "sf3"}


def _rival_before_each_add(memory: InterestMemory, patch: pytest.MonkeyPatch, rival_write) -> InterestMemory:
    """A second process on amy's log whose ``rival_write(rival, rows)`` lands between ``memory``'s check of
    the log position and its add."""
    memory.record(event("amy", "sf1", 0))
    rival = InterestMemory.open(memory.settings, memory.embedder)
    real_add = memory.store.add_events

    def add_just_after_the_rival(rows):
        rival_write(rival, rows)
        real_add(rows)

    patch.setattr(memory.store, "add_events", add_just_after_the_rival)
    return rival


def test_a_writer_racing_for_the_same_log_position_retries_and_loses_nothing(memory: InterestMemory,
                                                                               monkeypatch: pytest.MonkeyPatch):
    attempts = []

    def once(rival, rows):
        attempts.append([row.metadata["seq"] for row in rows])
        if len(attempts) == 1:
            rival.record(event("amy", "sf2", 1))  # takes log position 2 between our check and our add (once)

    with monkeypatch.context() as patch:
        rival = _rival_before_each_add(memory, patch, once)
        assert memory.record(event("amy", "sf3", 2)).applied
    assert attempts == [[2], [3]], "lost the race for position 2, stored at 3 after folding the rival's event in"
    assert memory.digest("amy").events == 3 and rival.digest("amy").events == 3
    assert memory.seen_items("amy") == {"sf1", "sf2", "sf3"}


def test_a_writer_that_always_loses_is_refused_and_keeps_nothing(memory: InterestMemory,
                                                                 monkeypatch: pytest.MonkeyPatch):
    rivals = iter(range(100))

    def every_time(rival, rows):  # a new rival event every time
        rival.record(event("amy", f"com{next(rivals) % 24}", 10 + len(rows)))

    with monkeypatch.context() as patch:
        rival = _rival_before_each_add(memory, patch, every_time)
        with pytest.raises(ConcurrentWriteError, match="another process logged events for amy"):
            memory.record(event("amy", "sf3", 2))
    assert "sf3" not in rival.seen_items("amy"), "the loser kept nothing"


def test_a_snapshot_is_a_consistent_view_and_the_next_one_catches_up(memory_backend: str | None, tmp_path: Path):
    first = open_memory(tmp_path, memory_backend)
    first.ingest(comedy_then_scifi("kim", per_genre=8), progress=False)
    second = InterestMemory.open(first.settings, first.embedder)
    before = second.snapshot("kim")
    first.record(event("kim", "dr3", 17))  # another process logs an event mid-request
    assert before.version != first.memory_version("kim"), "the snapshot keeps the view it was read with"
    assert "dr3" not in before.recent_items and "dr3" not in before.seen
    assert len(before.history) == 16
    after = second.snapshot("kim")
    assert after.version == first.memory_version("kim"), "the next snapshot caught up"
    assert after.recent_items[-1] == "dr3" and "dr3" in after.seen and len(after.history) == 17
