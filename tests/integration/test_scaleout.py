"""Three API worker processes over one real `chroma run` server, requests spread round-robin: a
session goes on on another worker, a record is answered by another, feedback on one changes the next
answer on another (and its item-kNN within the stated delay), two workers writing one user keep
every event, and kill -9 of one under load loses no acknowledged event."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.chat.intents import IntentClassifier
from bench.cluster_harness import Cluster
from bench.scaleout_drills import (
    FOLLOW_BOUND_S,
    concurrent_writes,
    cross_worker_feedback,
    cross_worker_why,
    kill_under_load,
    session_continuity,
)
from memory.service import InterestMemory
from tests.memory_support import comedy_then_scifi, event, movie_catalog

pytestmark = pytest.mark.integration
ITEMS = [f"sf{i}" for i in range(24)] + [f"com{i}" for i in range(24)]


def _load(memory: InterestMemory) -> None:
    memory.add_items(movie_catalog())
    events = comedy_then_scifi("ana", per_genre=10) + [event("bob", f"sf{i}", i, "rate", 5.0) for i in range(20)]
    events += [event("cy", f"sf{i}", i, "rate", 4.0) for i in range(5, 24)]
    memory.ingest(events, progress=False)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    folder = tmp_path_factory.mktemp("cluster")

    def load(memory: InterestMemory) -> None:
        _load(memory)
        IntentClassifier.cached(memory.embedder.embed, folder / "cache")  # trained once, read by every worker

    with Cluster(folder, load, env={"SHIFTREC_AGENT__LOG_POLL_S": "0.5",
                                    "SHIFTREC_AGENT__TUNE_SOURCE_WEIGHTS": "false"}) as running:
        running.start_workers(3)
        yield running


def test_a_session_and_a_record_go_on_on_other_workers(cluster: Cluster):
    assert session_continuity(cluster.urls, "ana") == 1.0
    assert cross_worker_why(cluster.urls, "ana") == 1.0


def test_feedback_on_one_worker_changes_the_next_answer_on_another(cluster: Cluster):
    changed, delay = cross_worker_feedback(cluster.urls, "bob")
    assert changed == 1.0
    assert delay is not None and delay <= FOLLOW_BOUND_S, "every worker counted it into its item-kNN"


def test_two_workers_writing_one_user_at_once_keep_every_event(cluster: Cluster):
    result = concurrent_writes(cluster.urls, ITEMS, count=40)
    assert result["statuses"] == {200: 40} and result["stored"] == 40 and result["lost"] == [], result


def test_a_worker_killed_under_load_loses_nothing_and_the_others_serve_on(cluster: Cluster):
    result = kill_under_load(cluster, victim=2, items=ITEMS, user_prefix="load", seconds=10.0)
    assert result["acknowledged"] > 20, result
    assert result["events_lost"] == 0 and result["failed_requests_outside_killed_worker"] == 0, result
    assert result["victim_sessions_continued"] == 1.0, result
