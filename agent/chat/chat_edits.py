"""Turns that change what ShiftRec believes about the person ("I'm over my horror phase", "those were
for my kids", "forget that I watched Heat", "always show me some documentaries", "undo that") and
the one that shows it ("what do you know about me?"). An edit that names nothing in the person's
history is answered with why, and nothing changes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from agent.chat.chat_lists import list_turn
from agent.edits import edit_request
from memory.editing import EditRefusedError
from memory.service_models import UnknownUserError

if TYPE_CHECKING:
    from agent.chat.events import ChatEvent, TurnRun


def edit_turn(run: TurnRun) -> Iterator[ChatEvent]:
    turn = run.turn
    ask = turn.edit
    assert ask is not None  # the reader sets it for every edit turn
    if ask.kind in ("forget", "not_mine") and not turn.edit_items:
        yield run.event("edit", text=f"I can't find \"{ask.target}\" among the {run.domain.plural} you "
                                     f"{run.domain.past}. Nothing was changed.")
        return
    topics = turn.edit_topics or ([ask.target] if ask.target else [])  # an unknown name is refused by the service
    request = edit_request(ask.kind, topics, turn.edit_items, ask.reason or "someone_else")
    try:
        outcome = run.backend.edit_memory(run.user, request)
    except UnknownUserError:
        yield run.event("edit", text="I don't know anything about you yet, so there is nothing to change.")
        return
    except EditRefusedError as refused:
        yield run.event("edit", text=f"{_sentence(str(refused))} Nothing was changed.")
        return
    run.state.last_items = [] if ask.kind == "forget" else list(turn.edit_items)  # a forgotten item is gone
    yield run.event("edit", text=outcome.text, edit=outcome.model_dump(mode="json"))
    if turn.slots.changes_list:  # "I'm over my action phase. more documentaries?"
        yield from list_turn(run)


def memory_view_turn(run: TurnRun) -> Iterator[ChatEvent]:
    """What the memory holds about the person, in words, with what they changed."""
    try:
        text, profile = run.backend.describe_memory(run.user)
    except UnknownUserError:
        yield run.text("I know nothing about you yet: tell me what you like, or rate a few recommendations.")
        return
    yield run.event("profile", text=text, profile=profile.model_dump(mode="json") if profile else None)


def _sentence(text: str) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."
