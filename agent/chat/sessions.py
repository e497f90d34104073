"""A chat session's state, as plain data that any worker can load: the standing refinement, the
list on screen, what was shown, a question waiting for its answer, and the trimmed history.

:class:`SessionStore` is the one interface the chat keeps sessions through; :class:`LocalSessions`
keeps them in this process (one worker), and a shared store (memory/) lets several workers
serve one conversation.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from agent.chat.edit_phrases import EditAsk
from agent.chat.turns import Reading
from agent.explain.records import RecommendationRecord
from agent.pipeline.refinement import Refinement

MAX_SHOWN = 200  # items remembered as shown in a session ("more" skips them)
MAX_SESSIONS = 2000


class ChatLine(BaseModel):
    role: str  # "user" or "assistant"
    content: str


class PendingQuestion(BaseModel):
    """A question the chat asked instead of guessing, and the readings an answer can pick."""

    question: str
    options: list[Reading] = Field(default_factory=list)
    asked_for: Reading | None = Field(default=None, description="A turn that waits for its missing target "
                                      "(\"which ones were gifts?\").")


class SessionState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    session_id: str
    user: str
    refinement: Refinement = Field(default_factory=Refinement)
    last_record_id: str | None = None
    last_list: list[tuple[str, str]] = Field(default_factory=list, description="(item id, title) on screen.")
    last_items: list[str] = Field(default_factory=list, description="Items the previous turn was about.")
    shown: list[str] = Field(default_factory=list, description="Items shown in this session, newest last.")
    last_was_edit: bool = False
    last_edit: EditAsk | None = Field(default=None, description="The edit the previous turn made (\"and X too\").")
    pending: PendingQuestion | None = None
    lines: list[ChatLine] = Field(default_factory=list)
    turns: int = 0
    version: int = 0  # bumped on every save (a shared store refuses a save over a newer one)

    def show(self, record: RecommendationRecord) -> None:
        """The session now shows ``record``'s list."""
        self.last_record_id = record.id
        self.last_list = [(entry.item_id, entry.title) for entry in record.items]
        self.note_shown([entry.item_id for entry in record.items])

    def note_shown(self, items: list[str]) -> None:
        self.shown = [item for item in self.shown if item not in items][-(MAX_SHOWN - len(items)):] + items


class SessionStore(Protocol):
    def load(self, session_id: str) -> SessionState | None: ...

    def save(self, state: SessionState) -> None: ...

    def forget_user(self, user: str) -> int: ...

    def user_sessions(self, user: str) -> list[SessionState]: ...


class LocalSessions:
    """Sessions in this process, the least recently used dropped beyond ``capacity``."""

    def __init__(self, capacity: int = MAX_SESSIONS):
        self._capacity = capacity
        self._states: OrderedDict[str, str] = OrderedDict()  # session id -> JSON (a copy, like a real store)
        self._lock = threading.Lock()

    def load(self, session_id: str) -> SessionState | None:
        with self._lock:
            text = self._states.get(session_id)
            if text is not None:
                self._states.move_to_end(session_id)
        return SessionState.model_validate_json(text) if text is not None else None

    def save(self, state: SessionState) -> None:
        with self._lock:
            self._states[state.session_id] = state.model_dump_json()
            self._states.move_to_end(state.session_id)
            while len(self._states) > self._capacity:
                self._states.popitem(last=False)

    def forget_user(self, user: str) -> int:
        with self._lock:
            doomed = [sid for sid, text in self._states.items() if SessionState.model_validate_json(text).user == user]
            for sid in doomed:
                del self._states[sid]
        return len(doomed)

    def user_sessions(self, user: str) -> list[SessionState]:
        with self._lock:
            states = [SessionState.model_validate_json(text) for text in self._states.values()]
        return [state for state in states if state.user == user]
