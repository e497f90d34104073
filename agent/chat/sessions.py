"""A chat session's state, as plain data that any worker can load: the standing refinement, the
list on screen, what was shown, a question waiting for its answer, and the trimmed history.

:class:`SessionStore` is the one interface the chat keeps sessions through; :class:`LocalSessions`
keeps them in this process (tests), :class:`StoredSessions` in the memory's store, so several
workers serve one conversation and a restart keeps it.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Any, Protocol

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


class StoredSessions:
    """Sessions in the memory's store (Chroma), so any worker sharing the store serves any session and a
    restart loses none. A session is one of its user's documents: exported and deleted with the user.
    Two turns of one session at the same moment on two workers: the later save wins (a person types one
    message at a time; the chat's state is theirs alone)."""

    KIND = "chat_session"

    def __init__(self, store: DocumentStore):
        self._store = store

    def load(self, session_id: str) -> SessionState | None:
        row = self._store.document(_row_id(session_id))
        return SessionState.model_validate_json(row.document) if row is not None and row.document else None

    def save(self, state: SessionState) -> None:
        state.version += 1
        self._store.put_document(state.user, _row_id(state.session_id), self.KIND, state.model_dump_json())

    def forget_user(self, user: str) -> int:
        rows = self._store.user_documents(user, self.KIND)
        self._store.delete_records([row.id for row in rows])
        return len(rows)

    def user_sessions(self, user: str) -> list[SessionState]:
        return [SessionState.model_validate_json(row.document) for row in self._store.user_documents(user, self.KIND)
                if row.document]


class DocumentStore(Protocol):
    """What :class:`StoredSessions` needs of the memory's store (memory.store.ChromaStore has it)."""

    def document(self, row_id: str) -> Any: ...

    def put_document(self, user: str, row_id: str, kind: str, document: str) -> None: ...

    def user_documents(self, user: str, kind: str) -> list[Any]: ...

    def delete_records(self, ids: list[str]) -> None: ...


def _row_id(session_id: str) -> str:
    return "chat:" + hashlib.sha1(session_id.encode()).hexdigest()[:24]
