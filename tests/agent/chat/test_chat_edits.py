"""Memory edits through the chat, end to end on the small catalog: each kind changes what the next answer
shows, a refused edit changes nothing, undo takes back the last edit, one user's edits never reach
another, and a close call is asked about before anything is done."""

from __future__ import annotations

from pathlib import Path

from agent.chat.intents import Intent
from agent.chat.turns import TurnReader
from agent.service import ShiftRecService
from tests.agent.chat.routers import SureRouter
from tests.agent_support import build_service

SCIFI, COMEDY, DRAMA = "t:sci-fi", "t:comedy", "t:drama"


def _turn(service: ShiftRecService, message: str, session: str = "e1", user: str = "ana") -> list:
    return list(service.chat(session, user, message))


def _said(events: list) -> str:
    return " ".join(event.text for event in events if event.text)


def _listed(events: list) -> list:
    return next(event for event in reversed(events) if event.kind == "recommendations").record.items


def _listed_record(events: list):
    return next(event for event in reversed(events) if event.kind == "recommendations").record


def _strength(service: ShiftRecService, user: str, node: str) -> float:
    return next(n.strength for n in service.memory.export_user(user).interests if n.id == node)


def test_a_fade_lowers_the_topic_and_the_next_list(tmp_path: Path):
    service = build_service(tmp_path, None, max_topic_share=None)
    before_list = _listed(_turn(service, "recommend something", session="before"))
    before = _strength(service, "ana", SCIFI)
    events = _turn(service, "I'm over my sci-fi phase")
    assert _said(events).startswith("Done: Sci-Fi fades from what I know about you (10 past movies count less now")
    assert events[0].edit["kind"] == "fade" and events[0].edit["events"] == 10
    assert _strength(service, "ana", SCIFI) < before / 3
    assert SCIFI in [node.id for node in service.memory.digest("ana").fading]
    after_list = _turn(service, "recommend something", session="after")
    count = lambda items: sum("Sci-Fi" in entry.categories for entry in items)  # noqa: E731
    assert count(_listed(after_list)) < count(before_list)
    assert service.records.get("ana", _listed_record(after_list).id).standing == ["Sci-Fi faded"]


def test_an_edit_naming_what_is_not_there_changes_nothing(tmp_path: Path):
    service = build_service(tmp_path, None)
    version = service.memory.memory_version("ana")
    assert "This catalog has no topic 'action': name one of its topics (Books, Comedy, Drama, Sci-Fi" in _said(_turn(service, "I'm over my action phase"))
    assert "Nothing was changed" in _said(_turn(service, "forget that I watched Drama 3 courtroom tears"))
    assert service.memory.memory_version("ana") == version and service.memory.editor.state("ana").empty


def test_not_mine_keeps_the_events_but_they_shape_nothing(tmp_path: Path):
    service = build_service(tmp_path, None)
    said = _said(_turn(service, "Galaxy 3 mars colony alien was a gift"))
    assert said.startswith("Done: Galaxy 3 mars colony alien no longer shapes your interests")
    assert "sf3" not in {event.item for event in service.memory.recent_events("ana")}
    assert "sf3" in service.memory.seen_items("ana")
    assert "they were gifts" in _said(_turn(service, "what do you know about me?"))


def test_forget_erases_the_item_its_records_and_chat_lines_and_cannot_be_undone(tmp_path: Path):
    service = build_service(tmp_path, None)
    stored = service.records.get("ana", _listed_record(_turn(service, "recommend something")).id)
    cited = {ref.item_id for entry in stored.items for ref in entry.explanation.evidence}
    item = sorted(cited)[0]
    title = service.item_titles([item])[item]
    said = _said(_turn(service, f"forget that I watched {title}"))
    assert said.startswith(f"Forgotten: {title} is erased from your history")
    assert item not in {event["item"] for event in service.memory.export_user("ana").events}
    assert all(ref.item_id != item for record in service.records.latest("ana") for entry in record.items
               if entry.explanation for ref in entry.explanation.evidence)
    assert not any(title in line.content for line in service.conversations.state("e1", "ana").lines[:-2])
    assert "cannot be undone" in _said(_turn(service, "undo that"))


def test_pins_hold_a_place_until_unpinned_and_undo_brings_them_back(tmp_path: Path):
    service = build_service(tmp_path, None)
    assert _said(_turn(service, "always show me some drama")).startswith("Pinned: every list will hold some Drama")
    assert any("Drama" in entry.categories for entry in _listed(_turn(service, "recommend something")))
    _turn(service, "unpin drama")
    assert not service.memory.editor.state("ana").pinned
    assert "Drama is pinned again" in _said(_turn(service, "undo that"))
    assert set(service.memory.editor.state("ana").pinned) == {DRAMA}


def test_one_users_edits_never_reach_another(tmp_path: Path):
    service = build_service(tmp_path, None)
    bob_before = [entry.item_id for entry in service.recommend("bob", explain=False).items]
    _turn(service, "I'm over my sci-fi phase")
    _turn(service, "always show me some comedy")
    assert service.memory.editor.state("bob").empty
    assert [entry.item_id for entry in service.recommend("bob", explain=False).items] == bob_before
    assert "You have not changed anything" in _said(_turn(service, "what do you know about me?", "b1", "bob"))


def test_a_close_call_is_asked_and_the_answer_decides(tmp_path: Path):
    service = build_service(tmp_path, None, max_topic_share=None)
    _turn(service, "recommend something")
    asked = _turn(service, "I'm tired of sci-fi")
    assert _said(asked).startswith("Just no Sci-Fi in these lists, or is Sci-Fi a phase you're over")
    assert service.memory.editor.state("ana").empty  # nothing done yet
    listed = _listed(_turn(service, "just for now"))
    assert listed and all("Sci-Fi" not in entry.categories for entry in listed)
    assert service.memory.editor.state("ana").empty
    _turn(service, "I'm tired of sci-fi", session="e2")
    assert "fades" in _said(_turn(service, "it's a phase i'm over", session="e2"))
    assert service.memory.editor.state("ana").faded_nodes == [SCIFI]


def test_refinements_hold_are_named_and_start_over_clears_them(tmp_path: Path):
    service = build_service(tmp_path, None, max_topic_share=None)
    _turn(service, "something lighter please")
    refined = _turn(service, "no sci-fi, only two of them")
    assert refined[0].intent == "refine" and "no Sci-Fi" in refined[0].text and "2 picks" in refined[0].text
    assert len(_listed(refined)) == 2 and all("Sci-Fi" not in e.categories for e in _listed(refined))
    more = _turn(service, "give me 5 picks")
    assert len(_listed(more)) == 5 and "no Sci-Fi" in more[0].text  # still active
    again = _turn(service, "give me 5 picks")
    assert not {e.item_id for e in _listed(again)} & {e.item_id for e in _listed(more)}  # more, not the same
    reset = _turn(service, "start over")
    assert reset[0].text.startswith("Starting over: no refinements are active now.")
    assert service.conversations.state("e1", "ana").refinement.is_empty


def test_an_edit_worded_past_the_grammar_is_asked_about_and_the_reworded_answer_acts(tmp_path: Path):
    service = build_service(tmp_path, None)
    service.conversations.reader = TurnReader(SureRouter(Intent.EDIT))
    asked = _said(_turn(service, "the thing from last week is someone else's, drop it"))
    assert asked.startswith("Should I change what I remember about you?") and "was a gift" in asked
    assert service.memory.editor.state("ana").empty
    said = _said(_turn(service, "Galaxy 3 mars colony alien was a gift"))
    assert said.startswith("Done: Galaxy 3 mars colony alien no longer shapes") and not service.memory.editor.state("ana").empty
