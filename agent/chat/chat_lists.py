"""Turns that show a list: recommend and refine. The turn's slots are merged into the session's
standing refinement (or reset it), a plain repeat of a request pages on past what the session
already showed, and the reply says which refinements are active."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from agent.chat.phrasing import regular
from agent.explain.guards import without_node_ids
from agent.explain.records import RecommendationRecord
from agent.pipeline.refinement import Refinement
from agent.profiler import ProfileResult
from agent.roles.names import COMPUTED
from agent.service_models import DoneEvent, ExplanationEvent, RankedEvent

if TYPE_CHECKING:
    from agent.chat.events import ChatEvent, TurnRun

_MORE = re.compile(r"\b(?:more|another|others|other ones|what else|different ones|next|else|new ones|again)\b")
RESET_TEXT = "Starting over: no refinements are active now."


def list_turn(run: TurnRun, intro: str | None = None) -> Iterator[ChatEvent]:
    """Apply the turn's slots to the session, then stream the list."""
    state, slots = run.state, run.turn.slots
    notes: list[str] = []
    if slots.reset:
        state.refinement, state.shown = Refinement(), []
        notes.append(RESET_TEXT)
    change = slots.refinement(run.backend.lexicon(), [item for item, _ in state.last_list])
    merged = state.refinement.merged_with(change)
    # asked again with nothing changed ("give me 5 picks" twice): new picks, not the same list
    more = bool(state.last_list) and (_asks_more(run.message, change) or merged == state.refinement)
    state.refinement = merged
    yield from stream_list(run, intro, notes, hide=set(state.shown) if more else set())


def stream_list(run: TurnRun, intro: str | None = None, notes: list[str] | None = None,
                hide: set[str] | None = None) -> Iterator[ChatEvent]:
    """The session's list for this turn: text, the list, each explanation as it comes."""
    state, backend = run.state, run.backend
    refinement = None if state.refinement.is_empty else state.refinement
    active = active_refinements(run)
    for event in backend.recommend_stream(run.user, count=refinement.count if refinement else None,
                                          refinement=refinement, hide=hide or set()):
        if isinstance(event, RankedEvent):
            record = event.record
            profile = None if intro or refinement or hide else backend.profile_if_ready(run.user)
            text = " ".join([*(notes or []), intro or _intro(record, active, bool(hide), profile)])
            made_by = profile.made_by if profile and text.startswith(profile.profile.profile) else COMPUTED
            yield run.text(text, made_by)
            yield run.event("recommendations", record=record, active=active)
            state.show(record)
        elif isinstance(event, ExplanationEvent):
            yield run.event("explanation", item_id=event.item.item_id, explanation=event.item.explanation)
        elif isinstance(event, DoneEvent):
            state.last_record_id = event.record.id


def active_refinements(run: TurnRun) -> list[str]:
    """The session's refinements in words ("no Horror", "from 1990 to 1999", "3 picks")."""
    refinement = run.state.refinement
    titles = dict(run.state.last_list)
    missing = [item for item in refinement.like_items if item not in titles]
    if missing:
        titles |= run.backend.item_titles(missing)
    return refinement.describe(run.backend.lexicon().labels(), titles, run.domain.plural)


def _intro(record: RecommendationRecord, active: list[str], more: bool, profile: ProfileResult | None) -> str:
    notes = " ".join(record.notes)
    if not record.items:
        return f"I found nothing that fits {_listed(active)}; loosen one or say \"start over\"." if active else \
            "I have nothing new to show right now."
    if record.cold_start:
        return "I don't know your taste yet, so here are popular picks. Tell me what you like to tailor them."
    if active:
        lead = "Here are more picks" if more else "Here is your list"
        return f"{lead} with {_listed(active)} active{' (' + notes + ')' if notes else ''}:"
    if more:
        return "Here are more picks, none of them shown before in this chat:"
    if profile is not None:  # the forecast's own sentence: its probabilities and horizon, never a guess
        ahead = f" {profile.forecast.text}" if profile.forecast is not None else ""
        return without_node_ids(f"{profile.profile.profile}{ahead} Here are picks for you:", profile.labels)
    return "Here are picks for you, with why each one fits:"


def _listed(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _asks_more(message: str, change: Refinement) -> bool:
    topics_or_years = change.only_topics or change.exclude_topics or change.topic_boosts or change.has_years \
        or change.like_items or change.year_preference
    return not topics_or_years and _MORE.search(regular(message)) is not None

