"""The person's edits of their memory: fade, not mine, pin, forget, undo; checked, logged, folded in,
kept across processes, refused with a reason when they name nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from memory.editing import EditRefusedError, UnknownNodeError
from memory.edits import FADE_LONG, EditKind
from memory.service import InterestMemory
from memory.service_models import UnknownUserError
from tests.memory_support import comedy_then_scifi, event, open_memory

SCIFI, COMEDY = "t:sci-fi", "t:comedy"
LATER = 1e10  # an edit's moment after every test event


def _loaded(tmp_path: Path, chroma_url: str | None = None) -> InterestMemory:
    memory = open_memory(tmp_path, chroma_url)
    memory.ingest(comedy_then_scifi("ana", per_genre=10) + comedy_then_scifi("bo", per_genre=5), progress=False)
    return memory


def _node(memory: InterestMemory, user: str, node_id: str):
    return next(node for node in memory.digest(user).long_term if node.id == node_id)


def _log_size(memory: InterestMemory, user: str) -> int:
    return len(memory.store.user_log(user))


def test_a_fade_drops_the_topic_now_and_keeps_the_history(tmp_path: Path, memory_backend):
    memory = _loaded(tmp_path, memory_backend)
    before, version = _node(memory, "ana", SCIFI), memory.memory_version("ana")
    result = memory.editor.fade("ana", [SCIFI], at=memory.recent_events("ana")[-1].ts + 60)
    after = _node(memory, "ana", SCIFI)
    assert result.events == 10 and result.version != version and result.edit.kind == EditKind.FADE
    assert after.strength == pytest.approx(before.strength * FADE_LONG, rel=1e-6)
    assert after.trend < 0 < before.trend and after.short_share == 0
    assert after.events == before.events and len(memory.store.user_events("ana")) == 20  # history kept
    assert "t:sci-fi" in [node.id for node in memory.digest("ana").fading]
    # an event after the fade counts fully again
    memory.record(event("ana", "sf20", 40))
    assert _node(memory, "ana", SCIFI).strength > after.strength + 0.9
    assert _node(memory, "bo", SCIFI).strength > 0 and memory.editor.state("bo").empty  # bo is untouched


def test_not_mine_takes_events_out_of_every_interest_but_keeps_them_logged(tmp_path: Path):
    memory = _loaded(tmp_path)
    items = [f"sf{i}" for i in range(10)]
    memory.editor.not_mine("ana", items, "kids", at=LATER)
    topics = {node.id for node in memory.digest("ana").long_term if node.strength > 0}
    assert topics == {COMEDY}
    assert {event.item for event in memory.recent_events("ana")} == {f"com{i}" for i in range(10)}
    assert set(items) <= memory.seen_items("ana") and len(memory.export_user("ana").events) == 20


def test_undo_restores_exactly_what_was_there(tmp_path: Path):
    memory = _loaded(tmp_path)
    before = memory.digest("ana").model_dump(mode="json", exclude={"version"})
    memory.editor.not_mine("ana", ["sf1", "sf2"], "gift", at=LATER)
    memory.editor.fade("ana", [COMEDY], at=LATER)
    undone = memory.editor.undo("ana", at=LATER)
    assert undone.undone is not None and undone.undone.kind == EditKind.FADE
    memory.editor.undo("ana", at=LATER)
    assert memory.digest("ana").model_dump(mode="json", exclude={"version"}) == before  # the log grew: new version
    with pytest.raises(EditRefusedError, match="nothing to undo"):
        memory.editor.undo("ana", at=LATER)
    assert [edit.kind for edit in memory.editor.state("ana").log] == ["not_mine", "fade", "undo", "undo"]


def test_pins_stand_until_unpinned_and_undo_brings_them_back(tmp_path: Path):
    memory = _loaded(tmp_path)
    version = memory.memory_version("ana")
    memory.editor.pin("ana", ["t:drama"], at=LATER)
    assert memory.editor.state("ana").pinned.keys() == {"t:drama"} and memory.memory_version("ana") != version
    with pytest.raises(EditRefusedError, match="already pinned"):
        memory.editor.pin("ana", ["t:drama"], at=LATER)
    memory.editor.unpin("ana", ["t:drama"], at=LATER)
    assert not memory.editor.state("ana").pinned
    with pytest.raises(EditRefusedError, match="not pinned"):
        memory.editor.unpin("ana", ["t:drama"], at=LATER)
    memory.editor.undo("ana", at=LATER)
    assert memory.editor.state("ana").pinned.keys() == {"t:drama"}


def test_forget_erases_the_item_everywhere_and_cannot_be_undone(tmp_path: Path, memory_backend):
    memory = _loaded(tmp_path, memory_backend)
    memory.record(event("ana", "sf3", 50, "rate", 5.0))  # sf3 twice: both go
    result = memory.editor.forget("ana", ["sf3"], at=LATER)
    assert result.events == 2 and result.edit.removed == 2
    assert "sf3" not in memory.seen_items("ana")
    assert all(event["item"] != "sf3" for event in memory.export_user("ana").events)
    assert all(row.metadata.get("item") != "sf3" for row in memory.store.user_log("ana"))
    assert "sf3" not in memory.store.user_log("ana")[-1].metadata["edit"]  # the entry names no item
    assert memory.event_count() == 20 - 1 + 10  # ana's 21 less 2, bo's 10
    with pytest.raises(EditRefusedError, match="forgetting cannot be undone"):
        memory.editor.undo("ana", at=LATER)


def test_refusals_change_nothing(tmp_path: Path):
    memory = _loaded(tmp_path)
    version, size = memory.memory_version("ana"), _log_size(memory, "ana")
    with pytest.raises(UnknownNodeError, match="no topic 't:westerns'"):
        memory.editor.fade("ana", ["t:westerns"], at=LATER)
    with pytest.raises(EditRefusedError, match="no history under Drama"):
        memory.editor.fade("ana", ["t:drama"], at=LATER)
    with pytest.raises(EditRefusedError, match="Drama 3 courtroom tears is not in your history"):
        memory.editor.forget("ana", ["dr3"], at=LATER)
    with pytest.raises(EditRefusedError, match="not in your history"):
        memory.editor.not_mine("ana", ["dr3"], "kids", at=LATER)
    with pytest.raises(EditRefusedError, match="reason 'aliens'"):
        memory.editor.not_mine("ana", ["sf1"], "aliens", at=LATER)
    with pytest.raises(UnknownUserError):
        memory.editor.pin("nobody", [COMEDY], at=LATER)
    assert memory.memory_version("ana") == version and _log_size(memory, "ana") == size


def test_edits_survive_a_restart_and_reach_another_process(tmp_path: Path):
    writer = _loaded(tmp_path)
    reader = InterestMemory.open(writer.settings, writer.embedder)
    assert _node(reader, "ana", SCIFI).strength > 0  # the reader has ana cached before the edits
    writer.editor.fade("ana", [SCIFI], at=LATER)
    writer.editor.not_mine("ana", ["com1"], "gift", at=LATER)
    writer.editor.pin("ana", ["t:drama"], at=LATER)
    expected = writer.digest("ana").model_dump(mode="json")
    assert reader.digest("ana").model_dump(mode="json") == expected  # caught up through the log
    assert reader.editor.state("ana").pinned.keys() == {"t:drama"}
    writer.close()
    reopened = InterestMemory.open(writer.settings, writer.embedder)
    assert reopened.digest("ana").model_dump(mode="json") == expected  # from the checkpoint
    assert reopened.memory_version("ana") == writer.memory_version("ana")


def test_deleting_the_user_deletes_their_edits(tmp_path: Path):
    memory = _loaded(tmp_path)
    memory.editor.pin("ana", [COMEDY], at=LATER)
    memory.delete_user("ana")
    assert memory.store.user_log("ana") == [] and memory.editor.state("ana").empty
