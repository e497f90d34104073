"""Turns about what was shown or said: "why the second one?" (answered from the stored record),
a verdict on an item (written to memory at once, then the changed list), "what do you think I
like?", and small talk (the varied help text, or the LLM where it earned the chat role)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from agent.chat import cues
from agent.chat.chat_lists import list_turn, stream_list
from agent.chat.mentions import mentioned_items, position_reference
from agent.chat.phrasing import regular
from agent.chat.replies import chat_reply_problem, standin_reply, with_help
from agent.explain.guards import without_node_ids
from agent.explain.records import RecommendationRecord, UnknownRecordError
from agent.forecast.shown import forecast_paragraph
from agent.llm.interface import LLMError
from agent.llm.prompting import run_prompt
from agent.roles.names import Role
from memory.service_models import UnknownUserError

if TYPE_CHECKING:
    from agent.chat.events import ChatEvent, TurnRun

_STATED = re.compile(r"\b(?:i (?:really |also |just )?(?:like|love|enjoy|adore|am into|'m into|prefer|dig)|"
                     r"i'?m a (?:big |huge )?fan of|i'm really into|i'm into)\b\s+(.+)", re.IGNORECASE)


def why_turn(run: TurnRun) -> Iterator[ChatEvent]:
    found = target(run) or run.backend.records.find_by_title(run.user, run.message)
    if found is None:
        yield run.text("Which recommendation do you mean? Name its title or say e.g. \"why the second one?\".")
        return
    record, item_id = found
    answer = run.backend.why(run.user, record.id, item_id)
    run.state.last_items = [item_id]
    yield run.event("why", text=answer.text, why=answer, item_id=item_id, made_by=answer.made_by)


def feedback_turn(run: TurnRun) -> Iterator[ChatEvent]:
    item_id = _feedback_item(run)
    slots = run.turn.slots
    if item_id is None and (slots.exclude or slots.avoid):  # "not a big fan of musicals": fewer of them
        yield from list_turn(run)
        return
    if item_id is None:
        if _STATED.search(run.message):  # "I like space operas": a stated preference, not an item
            yield from _stated(run)
        else:
            yield run.text(f"Which {run.domain.noun} do you mean? Name its title or its place in the list, e.g. "
                           "\"loved the first one\".")
        return
    positive = cues.SENTIMENT_BAD.search(regular(run.message)) is None
    result = run.backend.feedback(run.user, item_id, positive)
    run.state.last_items = [item_id]
    verb = "Glad you liked" if positive else "Got it, no more like"
    yield run.event("feedback", text=f"{verb} {result.title}.", item_id=item_id)
    yield from stream_list(run, intro=f"{verb} {result.title}. Here is your updated list:")


def profile_turn(run: TurnRun) -> Iterator[ChatEvent]:
    try:
        result = run.backend.profile(run.user)
    except UnknownUserError:
        yield run.text("I don't know your taste yet: tell me what you like, or rate a few recommendations.")
        return
    view = result.model_dump(mode="json")
    ahead = forecast_paragraph(result.forecast, result.track_record)
    text = without_node_ids(f"{result.profile.profile} {ahead}", result.labels)
    yield run.event("profile", text=text, profile=view, made_by=result.made_by)


def other_turn(run: TurnRun, earlier: list[str]) -> Iterator[ChatEvent]:
    """Small talk: the varied help text, or the LLM's reply before it where the LLM earned the chat role
    and its reply passes every check (no sentence said in the last replies)."""
    backend = run.backend
    llm = backend.llm
    standin = standin_reply(run.domain, next(iter(sorted(backend.topic_ids())), None), earlier)
    if llm is None or not backend.roles.earned(Role.CHAT):
        yield run.text(standin)
        return
    history = [{"role": line.role, "content": line.content} for line in run.state.lines[-4:]]
    variables = {"history": history, "message": run.message, **run.domain.prompt_variables()}
    try:
        result = run_prompt(llm, "chat", variables)
    except LLMError:
        yield run.text(standin)
        return
    reply = result.value.reply.strip()
    if chat_reply_problem(reply, earlier, run.domain):
        backend.roles.failed_check(Role.CHAT)
        yield run.text(standin)
        return
    yield run.text(with_help(reply, standin), backend.roles.made_by(Role.CHAT, True))


def target(run: TurnRun) -> tuple[RecommendationRecord, str] | None:
    """The item of the list on screen the message points at, by position or title."""
    state = run.state
    if state.last_record_id is None or not state.last_list:
        return None
    position = position_reference(run.message, len(state.last_list), run.domain)
    found = [state.last_list[position][0]] if position is not None else mentioned_items(run.message, state.last_list)
    if not found:
        return None
    try:
        return run.backend.records.get(run.user, state.last_record_id), found[0]
    except UnknownRecordError:
        return None


def _feedback_item(run: TurnRun) -> str | None:
    if run.turn.feedback_items:
        return run.turn.feedback_items[0]
    found = target(run)
    if found is not None:
        return found[1]
    if run.state.last_list and re.search(r"\b(?:it|that one|this one|that|this)\b", regular(run.message)) \
            and len(run.state.last_items) == 1:
        return run.state.last_items[0]
    known = run.backend.recent_items(run.user)
    named = mentioned_items(run.message, [(item.id, item.title) for item in known]) or run.backend.find_titles(
        run.message)
    return named[0] if named else None


def _stated(run: TurnRun) -> Iterator[ChatEvent]:
    """A preference said in words ("I like space operas") seeds the short-term interests, then a list."""
    match = _STATED.search(run.message)
    seeded = [] if match is None or run.backend.find_titles(run.message) else run.backend.state_preference(
        run.user, match.group(1))
    if seeded:
        yield run.text(f"Noted - I'll remember that. It sounds close to {', '.join(i.title for i in seeded)}.")
    yield from stream_list(run)
