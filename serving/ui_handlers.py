"""What each action in the web UI does, as generators of `Screen` changes (no Gradio here).

Handlers take and return plain values (the chat history, the current record), so tests
drive them with a real service and no browser; `serving.ui` maps a `Screen` to components.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pandas as pd

from agent.chat.conversation import ChatEvent
from agent.explain.records import RecommendationRecord
from agent.profiler import ProfileResult
from agent.service import ShiftRecService
from agent.service_models import DoneEvent, ExplanationEvent, RankedEvent
from memory.service_models import UnknownUserError
from serving.ui_views import chat_message, list_message, notice_html, profile_html, trajectory_frame, why_text

History = list[dict[str, str]]
# what a bad request raises in the service: unknown user/record/item, a bad message, a foreign session
REQUEST_ERRORS = (KeyError, ValueError, PermissionError)


@dataclass
class Screen:
    """One step's changes to the page; a field left None keeps that part as it is."""

    history: History | None = None
    record: RecommendationRecord | None = None
    clear_cards: bool = False
    profile: str | None = None
    trajectory: pd.DataFrame | None = None
    session_id: str | None = None
    why: tuple[int, str] | None = None  # card slot, answer text

    def __post_init__(self):
        if self.history is not None:  # a snapshot: the handler keeps appending to its own list
            self.history = list(self.history)


class UIHandlers:
    """The UI's actions on one `ShiftRecService`."""

    def __init__(self, service: ShiftRecService):
        self.service = service
        self.words = service.settings.words  # what the catalog's items are called, in every line shown

    def sign_in(self, user: str) -> Iterator[Screen]:
        """A fresh chat session for ``user``; the trajectory at once, the profile when it is ready."""
        user = (user or "").strip()
        if not user:
            yield Screen(history=[], clear_cards=True, session_id="", profile=notice_html("Pick a user to start."),
                         trajectory=trajectory_frame([]))
            return
        greeting = chat_message("assistant", f"Signed in as {user}. Ask me for something to {self.words.verb}.")
        yield Screen(history=[greeting], clear_cards=True, session_id=f"ui-{uuid.uuid4().hex}",
                     profile=notice_html("Reading your interest profile…"), trajectory=self.trajectory(user))
        yield Screen(profile=self.profile_view(user))

    def trajectory(self, user: str) -> pd.DataFrame:
        try:
            return trajectory_frame(self.service.memory.digest(user).long_term)
        except UnknownUserError:
            return trajectory_frame([])

    def profile_view(self, user: str) -> str:
        try:
            return profile_html(self.service.profile(user))
        except UnknownUserError:
            return notice_html(f"No history yet for {user}: tell me in the chat what you like, or rate a few picks.")

    def chat(self, message: str, history: History, user: str, session_id: str,
             record: RecommendationRecord | None) -> Iterator[Screen]:
        """One chat turn, streamed: text as it comes, the list, then each reason as it is written."""
        history = list(history or [])
        message = (message or "").strip()
        if not message:
            yield Screen()  # nothing to send: the page stays as it is
            return
        history.append(chat_message("user", message))
        if not user or not session_id:
            history.append(chat_message("assistant", "Pick a user first (the box at the top)."))
            yield Screen(history=history)
            return
        yield Screen(history=history)
        list_at: int | None = None
        try:
            for event in self.service.chat(session_id, user, message):
                screen = self._chat_step(event, history, record, list_at, user)
                if screen is None:
                    continue
                if screen.record is not None:
                    record = screen.record
                if event.kind == "recommendations":
                    list_at = len(history) - 1
                yield screen
        except REQUEST_ERRORS as error:
            history.append(chat_message("assistant", f"Sorry: {error}"))
            yield Screen(history=history)

    def _chat_step(self, event: ChatEvent, history: History, record: RecommendationRecord | None,
                   list_at: int | None, user: str) -> Screen | None:
        if event.kind == "edit" and event.text:  # the memory changed: the profile panel shows it at once
            history.append(chat_message("assistant", event.text))
            return Screen(history=history, profile=self.profile_view(user), trajectory=self.trajectory(user))
        if event.kind in ("text", "why", "feedback") and event.text:
            history.append(chat_message("assistant", event.text))
            return Screen(history=history)
        if event.kind == "profile" and event.text:
            history.append(chat_message("assistant", event.text))
            view = profile_html(ProfileResult.model_validate(event.profile)) if event.profile else None
            return Screen(history=history, profile=view)
        if event.kind == "recommendations" and event.record is not None:
            history.append({"role": "assistant", "content": list_message(event.record)})
            return Screen(history=history, record=event.record)
        if event.kind == "explanation" and record is not None and list_at is not None:
            record = _explained(record, event)
            history[list_at] = {"role": "assistant", "content": list_message(record)}
            return Screen(history=history, record=record)
        if event.kind == "done" and record is not None:
            return Screen(trajectory=self.trajectory(record.user))
        return None

    def why(self, slot: int, record: RecommendationRecord | None, user: str) -> Screen:
        """The answer stored with the record for the card in ``slot``."""
        if record is None or slot >= len(record.items):
            return Screen(why=(slot, "This card is empty."))
        try:
            answer = self.service.why(user, record.id, record.items[slot].item_id)
        except REQUEST_ERRORS:
            return Screen(why=(slot, "The reasons are still being written; press Why? again in a moment."))
        return Screen(why=(slot, why_text(answer)))

    def thumb(self, slot: int, positive: bool, record: RecommendationRecord | None, user: str,
              history: History, session_id: str | None = None) -> Iterator[Screen]:
        """Feedback on one card written to memory, then the list recommended again (same size and filters)."""
        if record is None or slot >= len(record.items):
            yield Screen()
            return
        item = record.items[slot]
        history = list(history or [])
        try:
            result = self.service.feedback(user, item.item_id, positive)
        except REQUEST_ERRORS as error:
            history.append(chat_message("assistant", f"Sorry: {error}"))
            yield Screen(history=history)
            return
        verb = "Glad you liked" if positive else "Got it, fewer picks like"
        history.append(chat_message("assistant", f"{verb} {result.title}. Here is your updated list:"))
        list_at = len(history)
        for event in self.service.recommend_stream(user, count=len(record.items), refinement=record.refinement):
            if isinstance(event, RankedEvent):
                record = event.record
                history.append({"role": "assistant", "content": list_message(record)})
            elif isinstance(event, ExplanationEvent):
                record = _with_item(record, event)
                history[list_at] = {"role": "assistant", "content": list_message(record)}
            elif isinstance(event, DoneEvent):
                if session_id:  # "why the second one?" typed next refers to this list
                    self.service.conversations.remember_list(session_id, user, event.record)
                yield Screen(history=history, record=event.record, trajectory=self.trajectory(user))
                continue
            yield Screen(history=history, record=record)


def _explained(record: RecommendationRecord, event: ChatEvent) -> RecommendationRecord:
    """A copy of ``record`` with the chat event's explanation on its item."""
    items = [item.model_copy(update={"explanation": event.explanation}) if item.item_id == event.item_id else item
             for item in record.items]
    return record.model_copy(update={"items": items})


def _with_item(record: RecommendationRecord, event: ExplanationEvent) -> RecommendationRecord:
    items = [event.item if item.item_id == event.item.item_id else item for item in record.items]
    return record.model_copy(update={"items": items})
