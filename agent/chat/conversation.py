"""The chat: one message in, a stream of typed events out, per session.

A turn is read into an intent plus slots (:mod:`agent.chat.turns`); refinements accumulate
in the session until changed or reset, memory edits are written at once, and a turn whose
two best readings are close is answered with one short question. Session state is plain
data in a :class:`agent.chat.sessions.SessionStore` (this process, or a store shared by
several workers); the history is trimmed to a token budget with LangChain's ``trim_messages``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, trim_messages

from agent.chat.backend import ChatBackend
from agent.chat.chat_edits import edit_turn, memory_view_turn
from agent.chat.chat_lists import list_turn
from agent.chat.chat_talk import feedback_turn, other_turn, profile_turn, why_turn
from agent.chat.events import ChatEvent, TurnRun
from agent.chat.intents import Intent
from agent.chat.phrasing import regular
from agent.chat.sessions import ChatLine, LocalSessions, PendingQuestion, SessionState, SessionStore
from agent.chat.turns import Reading, Turn, TurnReader, items_named
from agent.explain.records import RecommendationRecord
from memory.domain import GENERIC_WORDS, DomainWords
from memory.tokens import count_tokens

MAX_MESSAGE_CHARS = 2000
__all__ = ["ChatEvent", "Conversations", "MAX_MESSAGE_CHARS", "SessionMismatchError"]
_LOCKS = 512  # striped per-session locks: two turns of one session never interleave in a process


class SessionMismatchError(PermissionError):
    def __str__(self) -> str:
        return "this session belongs to another user: start a new session id"


class Conversations:
    def __init__(self, service: ChatBackend, history_tokens: int, domain: DomainWords = GENERIC_WORDS,
                 sessions: SessionStore | None = None):
        self._service = service
        self._history_tokens = history_tokens
        self._domain = domain
        self.sessions = sessions or LocalSessions()
        self.reader = TurnReader(getattr(service, "intents", None))
        self._locks = [threading.Lock() for _ in range(_LOCKS)]

    def chat(self, session_id: str, user: str, message: str) -> Iterator[ChatEvent]:
        """Handle one message; events stream as they are ready, the last one is ``done``.

        Bad input (empty or too long message, another user's session) raises here, before
        any event, so that callers can answer it as a request error."""
        message = message.strip()
        if not message:
            raise ValueError("the message is empty: type what you would like")
        if len(message) > MAX_MESSAGE_CHARS:
            raise ValueError(f"the message has {len(message)} characters; keep it under {MAX_MESSAGE_CHARS}")
        self._state(session_id, user)  # refuses another user's session before any event
        return self._turn(session_id, user, message)

    def read(self, session_id: str, user: str, message: str) -> Turn:
        """How the next message of this session would be read (nothing is done)."""
        state = self._state(session_id, user)
        return self._read(state, message)

    def _turn(self, session_id: str, user: str, message: str) -> Iterator[ChatEvent]:
        with self._locks[hash(session_id) % _LOCKS]:
            state = self._state(session_id, user)
            turn = self._read(state, message)
            run = TurnRun(session_id, state, message, turn, self._service, self._domain)
            state.pending = None
            replies: list[str] = []
            for event in self._handle(run):
                if event.kind in ("text", "why", "profile", "feedback", "edit") and event.text:
                    replies.append(event.text)
                yield event
            state.last_was_edit = turn.intent == Intent.EDIT and turn.question is None
            state.last_edit = turn.edit if state.last_was_edit and turn.edit and turn.edit.kind != "undo" else None
            state.turns += 1
            self._remember(state, message, " ".join(replies) or turn.intent.value)
            self.sessions.save(state)
            yield ChatEvent(kind="done", session_id=session_id, intent=turn.intent)

    def _read(self, state: SessionState, message: str) -> Turn:
        context = self._service.turn_context(state)
        pending = state.pending
        if pending is not None and pending.asked_for is not None:  # "which ones?": the answer names them
            named = items_named(regular(message), context) or (
                context.history_fuzzy(regular(message)) if context.history_fuzzy else [])
            if named:
                return Turn(**pending.asked_for.model_dump(exclude={"edit_items"}), edit_items=named)
        if pending is not None and pending.options:
            chosen = self.reader.resolve(pending.options, message)
            if chosen is not None:
                return _answered(chosen, message, context)
        return self.reader.read(message, context)

    def _handle(self, run: TurnRun) -> Iterator[ChatEvent]:
        turn = run.turn
        if turn.question is not None:
            named_later = not turn.options and turn.edit is not None  # "which ones?": the answer only names them
            run.state.pending = PendingQuestion(question=turn.question, options=turn.options,
                                                asked_for=Reading(**turn.model_dump(include=set(Reading.model_fields)))
                                                if named_later else None)
            yield run.text(turn.question)
            return
        if turn.memory_view:
            yield from memory_view_turn(run)
        elif turn.intent == Intent.EDIT:
            yield from edit_turn(run)
        elif turn.intent == Intent.WHY:
            yield from why_turn(run)
        elif turn.intent == Intent.FEEDBACK:
            yield from feedback_turn(run)
        elif turn.intent == Intent.PROFILE:
            yield from profile_turn(run)
        elif turn.intent == Intent.OTHER:
            yield from other_turn(run, [line.content for line in run.state.lines if line.role == "assistant"])
        else:
            yield from list_turn(run)

    # ---------------------------------------------------------------- sessions
    def history(self, session_id: str, user: str) -> list[BaseMessage]:
        return [_message(line) for line in self._state(session_id, user).lines]

    def state(self, session_id: str, user: str) -> SessionState:
        """The session's state now (a copy)."""
        return self._state(session_id, user)

    def remember_list(self, session_id: str, user: str, record: RecommendationRecord) -> None:
        """Make ``record`` the session's last list (shown outside the chat, e.g. after a thumbs click)."""
        with self._locks[hash(session_id) % _LOCKS]:
            state = self._state(session_id, user)
            state.show(record)
            self.sessions.save(state)

    def forget_user(self, user: str) -> int:
        """Drop every session of ``user`` (account deletion)."""
        return self.sessions.forget_user(user)

    def _state(self, session_id: str, user: str) -> SessionState:
        if not session_id or len(session_id) > 128:
            raise ValueError("session_id must be 1 to 128 characters")
        state = self.sessions.load(session_id)
        if state is None:
            return SessionState(session_id=session_id, user=user)
        if state.user != user:
            raise SessionMismatchError(session_id)
        return state

    def _remember(self, state: SessionState, message: str, reply: str) -> None:
        messages = trim_messages(
            [*map(_message, state.lines), HumanMessage(message), AIMessage(reply)],
            max_tokens=self._history_tokens,
            token_counter=_count, strategy="last", start_on="human", include_system=False,
        )
        state.lines = [ChatLine(role="user" if isinstance(m, HumanMessage) else "assistant", content=str(m.content))
                       for m in messages]


def _answered(chosen: Reading, message: str, context) -> Turn:
    """The turn a reply to a question stands for; a verdict ("it was the first one") keeps what it names."""
    turn = Turn(**chosen.model_dump())
    if chosen.intent == Intent.FEEDBACK and context.position_in is not None:
        position = context.position_in(message)
        if position is not None and position < len(context.last_list):
            turn.feedback_items = [context.last_list[position][0]]
    return turn


def _message(line: ChatLine) -> BaseMessage:
    return HumanMessage(line.content) if line.role == "user" else AIMessage(line.content)


def _count(messages: list[BaseMessage]) -> int:
    return sum(count_tokens(str(message.content)) + 4 for message in messages)
