from pathlib import Path

import numpy as np
import pytest

from memory.service_models import EMPTY_VERSION
from tests.memory_support import comedy_then_scifi, event, open_memory


@pytest.fixture
def memory(tmp_path: Path):
    opened = open_memory(tmp_path)
    opened.ingest(comedy_then_scifi("ola", per_genre=6) + [event("ola", "dr3", 13, "dislike")], progress=False)
    yield opened
    opened.close()


def test_a_snapshot_holds_what_the_separate_reads_return(memory):
    snapshot = memory.snapshot("ola", per_kind=2)
    assert snapshot.known and snapshot.version == memory.memory_version("ola")
    assert list(snapshot.recent) == memory.recent_events("ola")
    assert snapshot.recent_items[-1] == "dr3"
    assert snapshot.seen == memory.seen_items("ola") and snapshot.disliked == {"dr3"} == memory.disliked_items("ola")
    for kind in ("long_term", "short_term", "rising"):
        separate = memory.interest_vectors("ola", kind, k=2)
        assert [v.node_id for v in snapshot.interests[kind]] == [v.node_id for v in separate]
        assert all(np.allclose(a.vector, b.vector) for a, b in zip(snapshot.interests[kind], separate, strict=True))
    assert len(snapshot.history) == 13


def test_excluded_items_are_the_disliked_plus_the_seen_unless_they_may_return(memory):
    snapshot = memory.snapshot("ola")
    assert snapshot.excluded(include_seen=True) == {"dr3"}
    assert snapshot.excluded(include_seen=False) == set(snapshot.seen) and "dr3" in snapshot.seen


def test_evidence_from_a_snapshot_matches_a_fresh_search_of_the_history(memory):
    snapshot = memory.snapshot("ola")
    queries = [memory.item_vectors(["sf5"])["sf5"], memory.item_vectors(["com2"])["com2"]]
    assert memory.history_matches(snapshot, queries, k=3) == memory.search_history_many("ola", queries, k=3)


def test_an_unknown_user_gets_an_empty_snapshot_that_cannot_be_changed(memory):
    snapshot = memory.snapshot("nobody")
    assert not snapshot.known and snapshot.version == EMPTY_VERSION
    assert snapshot.recent == () and snapshot.seen == frozenset() and snapshot.history == ()
    assert memory.history_matches(snapshot, [memory.item_vectors(["sf1"])["sf1"]]) == [[]]
    with pytest.raises(AttributeError):
        snapshot.version = "changed"  # type: ignore[misc]
    with pytest.raises(TypeError):
        memory.snapshot("ola").interests["long_term"] = ()  # type: ignore[index]
