"""The chat: one message in, a stream of typed events out, per session.

LangChain messages hold each session's history (trimmed to a token budget with
``trim_messages`` and tiktoken counts) and routes the message to its
handler (a ``RunnableBranch`` over the detected intent). Refinements accumulate over a
session and shape every later recommendation; feedback is written to memory at once and
answered with the changed list; "why?" is answered from the stored record.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import Literal

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, trim_messages
from langchain_core.runnables import RunnableBranch, RunnableLambda
from pydantic import BaseModel, ConfigDict, Field

from agent.chat.backend import ChatBackend
from agent.chat.intents import Intent
from agent.chat.mentions import mentioned_items, position_reference
from agent.chat.replies import chat_reply_problem, standin_reply, with_help
from agent.explain.guards import without_node_ids
from agent.explain.records import Explanation, RecommendationRecord
from agent.explain.why import WhyAnswer
from agent.forecast.shown import forecast_paragraph
from agent.llm.interface import LLMError
from agent.llm.prompting import run_prompt
from agent.pipeline.refinement import Refinement, parse_refinement
from agent.profiler import ProfileResult
from agent.roles.names import COMPUTED, Role
from agent.service_models import DoneEvent, ExplanationEvent, RankedEvent
from memory.domain import GENERIC_WORDS, DomainWords
from memory.service_models import UnknownUserError
from memory.tokens import count_tokens

MAX_MESSAGE_CHARS = 2000
MAX_SESSIONS = 2000
_NEGATIVE = re.compile(
    r"\b(?:not for me|didn'?t like|did not like|don'?t like|do not like|hated?|dislike[ds]?|boring|awful|terrible|"
    r"meh|no thanks|thumbs down|not my thing|not into|bad|worst|skip)\b",
    re.IGNORECASE,
)
_STATED = re.compile(r"\b(?:i (?:really )?(?:like|love|enjoy|am into|'m into|prefer)|i'?m a fan of|fan of)\b\s+(.+)",
                     re.IGNORECASE)


class ChatEvent(BaseModel):
    """One piece of a reply: text, the list, an explanation as it arrives, an answer, or the end."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    kind: Literal["text", "recommendations", "explanation", "why", "profile", "feedback", "done"]
    session_id: str
    intent: Intent
    text: str | None = None
    record: RecommendationRecord | None = None
    item_id: str | None = None
    explanation: Explanation | None = None
    why: WhyAnswer | None = None
    profile: dict | None = Field(default=None, description="The profile view (see ShiftRecService.profile).")
    made_by: str = Field(default=COMPUTED, description="How the text was made: 'computed from your history' or "
                         "'written by <model>'.")


class SessionMismatchError(PermissionError):
    def __str__(self) -> str:
        return "this session belongs to another user: start a new session id"


class _Session:
    def __init__(self, user: str):
        self.user = user
        self.messages: list[BaseMessage] = []
        self.refinement = Refinement()
        self.last_record: RecommendationRecord | None = None
        self.lock = threading.Lock()


class Conversations:
    def __init__(self, service: ChatBackend, history_tokens: int, domain: DomainWords = GENERIC_WORDS):
        self._service = service
        self._history_tokens = history_tokens
        self._domain = domain
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        self._lock = threading.Lock()
        # each branch returns the handler's generator (not its output), so events stream as they come
        self._branch = RunnableBranch(
            (lambda turn: turn["intent"] == Intent.WHY, RunnableLambda(lambda turn: self._why(turn))),
            (lambda turn: turn["intent"] == Intent.FEEDBACK, RunnableLambda(lambda turn: self._feedback(turn))),
            (lambda turn: turn["intent"] == Intent.PROFILE, RunnableLambda(lambda turn: self._profile(turn))),
            (lambda turn: turn["intent"] == Intent.OTHER, RunnableLambda(lambda turn: self._other(turn))),
            RunnableLambda(lambda turn: self._recommend(turn)),  # recommend and refine
        )

    def chat(self, session_id: str, user: str, message: str) -> Iterator[ChatEvent]:
        """Handle one message; events stream as they are ready, the last one is ``done``.

        Bad input (empty or too long message, another user's session) raises here, before
        any event, so that callers can answer it as a request error."""
        message = message.strip()
        if not message:
            raise ValueError("the message is empty: type what you would like")
        if len(message) > MAX_MESSAGE_CHARS:
            raise ValueError(f"the message has {len(message)} characters; keep it under {MAX_MESSAGE_CHARS}")
        return self._turn(session_id, self._session(session_id, user), message)

    def _turn(self, session_id: str, session: _Session, message: str) -> Iterator[ChatEvent]:
        with session.lock:
            routed = self._service.intents.route(message)
            turn = {"session_id": session_id, "session": session, "message": message, "intent": routed.intent,
                    "routed": routed}
            replies: list[str] = []
            for event in self._branch.invoke(turn):
                if event.kind in ("text", "why") and event.text:
                    replies.append(event.text)
                yield event
            self._remember(session, message, " ".join(replies) or routed.intent.value)
            yield ChatEvent(kind="done", session_id=session_id, intent=routed.intent)

    def history(self, session_id: str, user: str) -> list[BaseMessage]:
        return list(self._session(session_id, user).messages)

    def remember_list(self, session_id: str, user: str, record: RecommendationRecord) -> None:
        """Make ``record`` the session's last list (shown outside the chat, e.g. after a thumbs click)."""
        session = self._session(session_id, user)
        with session.lock:
            session.last_record = record

    def forget_user(self, user: str) -> int:
        """Drop every session of ``user`` (account deletion)."""
        with self._lock:
            doomed = [sid for sid, session in self._sessions.items() if session.user == user]
            for sid in doomed:
                del self._sessions[sid]
        return len(doomed)

    # ---------------------------------------------------------------- handlers
    def _recommend(self, turn: dict) -> Iterator[ChatEvent]:
        session, message = turn["session"], turn["message"]
        seeded = self._stated_preference(session.user, message)
        if seeded:
            names = ", ".join(item.title for item in seeded)
            yield self._text(turn, f"Noted - I'll remember that. It sounds close to {names}.")
        change = parse_refinement(message, self._service.topic_ids())
        if not change.is_empty:
            session.refinement = session.refinement.merged_with(change)
        yield from self._list(turn, intro=None)

    def _list(self, turn: dict, intro: str | None) -> Iterator[ChatEvent]:
        session = turn["session"]
        refinement = None if session.refinement.is_empty else session.refinement
        for event in self._service.recommend_stream(session.user, refinement=refinement):
            if isinstance(event, RankedEvent):
                record = event.record
                profile = None if intro else self._service.profile_if_ready(session.user)
                text = intro or _list_intro(record, refinement, profile)
                yield self._text(turn, text, profile.made_by if profile and text.startswith(profile.profile.profile)
                                 else COMPUTED)
                yield ChatEvent(kind="recommendations", session_id=turn["session_id"], intent=turn["intent"],
                                record=record)
            elif isinstance(event, ExplanationEvent):
                yield ChatEvent(kind="explanation", session_id=turn["session_id"], intent=turn["intent"],
                                item_id=event.item.item_id, explanation=event.item.explanation)
            elif isinstance(event, DoneEvent):
                session.last_record = event.record

    def _why(self, turn: dict) -> Iterator[ChatEvent]:
        session, message = turn["session"], turn["message"]
        found = self._target(session, message) or self._service.records.find_by_title(session.user, message)
        if found is None:
            yield self._text(turn, "Which recommendation do you mean? Name its title or say e.g. "
                                   "\"why the second one?\".")
            return
        record, item_id = found
        answer = self._service.why(session.user, record.id, item_id)
        yield ChatEvent(kind="why", session_id=turn["session_id"], intent=turn["intent"], text=answer.text,
                        why=answer, item_id=item_id, made_by=answer.made_by)

    def _feedback(self, turn: dict) -> Iterator[ChatEvent]:
        session, message = turn["session"], turn["message"]
        item_id = self._feedback_item(session, message)
        if item_id is None:
            if _STATED.search(message):  # "I like space operas": a stated preference, not an item
                yield from self._recommend(turn)
            else:
                yield self._text(turn, f"Which {self._domain.noun} do you mean? Name its title or its place in the "
                                       "list, e.g. \"loved the first one\".")
            return
        positive = _NEGATIVE.search(message) is None
        result = self._service.feedback(session.user, item_id, positive)
        verb = "Glad you liked" if positive else "Got it, no more like"
        yield ChatEvent(kind="feedback", session_id=turn["session_id"], intent=turn["intent"],
                        text=f"{verb} {result.title}.", item_id=item_id)
        yield from self._list(turn, intro=f"{verb} {result.title}. Here is your updated list:")

    def _profile(self, turn: dict) -> Iterator[ChatEvent]:
        session = turn["session"]
        try:
            result = self._service.profile(session.user)
        except UnknownUserError:
            yield self._text(turn, "I don't know your taste yet: tell me what you like, or rate a few "
                                   "recommendations.")
            return
        view = result.model_dump(mode="json")
        ahead = forecast_paragraph(result.forecast, result.track_record)
        text = without_node_ids(f"{result.profile.profile} {ahead}", result.labels)
        yield ChatEvent(kind="profile", session_id=turn["session_id"], intent=turn["intent"], text=text, profile=view,
                        made_by=result.made_by)

    def _other(self, turn: dict) -> Iterator[ChatEvent]:
        """Small talk: the varied help text, or the LLM's reply before it where the LLM earned the chat role
        and its reply passes every check (no sentence said in the last replies)."""
        llm = self._service.llm
        earlier = [str(m.content) for m in turn["session"].messages if isinstance(m, AIMessage)]
        standin = standin_reply(self._domain, next(iter(sorted(self._service.topic_ids())), None), earlier)
        if llm is None or not self._service.roles.earned(Role.CHAT):
            yield self._text(turn, standin)
            return
        history = [{"role": "user" if isinstance(m, HumanMessage) else "assistant", "content": str(m.content)}
                   for m in turn["session"].messages[-4:]]
        variables = {"history": history, "message": turn["message"], **self._domain.prompt_variables()}
        try:
            result = run_prompt(llm, "chat", variables)
        except LLMError:
            yield self._text(turn, standin)
            return
        reply = result.value.reply.strip()
        if chat_reply_problem(reply, earlier, self._domain):
            self._service.roles.failed_check(Role.CHAT)
            yield self._text(turn, standin)
            return
        yield self._text(turn, with_help(reply, standin), self._service.roles.made_by(Role.CHAT, True))

    # ---------------------------------------------------------------- helpers
    def _target(self, session: _Session, message: str) -> tuple[RecommendationRecord, str] | None:
        """The item of the last list the message points at, by position or title."""
        record = session.last_record
        if record is None or not record.items:
            return None
        position = position_reference(message, len(record.items), self._domain)
        if position is not None:
            return record, record.items[position].item_id
        found = mentioned_items(message, [(entry.item_id, entry.title) for entry in record.items])
        return (record, found[0]) if found else None

    def _feedback_item(self, session: _Session, message: str) -> str | None:
        target = self._target(session, message)
        if target is not None:
            return target[1]
        known = self._service.recent_items(session.user)
        found = mentioned_items(message, [(item.id, item.title) for item in known])
        if not found:
            found = self._service.find_titles(message)
        return found[0] if found else None

    def _stated_preference(self, user: str, message: str):
        match = _STATED.search(message)
        if match is None or self._service.find_titles(message):
            return []
        return self._service.state_preference(user, match.group(1))

    def _text(self, turn: dict, text: str, made_by: str = COMPUTED) -> ChatEvent:
        return ChatEvent(kind="text", session_id=turn["session_id"], intent=turn["intent"], text=text, made_by=made_by)

    def _session(self, session_id: str, user: str) -> _Session:
        if not session_id or len(session_id) > 128:
            raise ValueError("session_id must be 1 to 128 characters")
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                session = self._sessions[session_id] = _Session(user)
                while len(self._sessions) > MAX_SESSIONS:
                    self._sessions.popitem(last=False)
            elif session.user != user:
                raise SessionMismatchError(session_id)
            self._sessions.move_to_end(session_id)
            return session

    def _remember(self, session: _Session, message: str, reply: str) -> None:
        session.messages = trim_messages(
            [*session.messages, HumanMessage(message), AIMessage(reply)],
            max_tokens=self._history_tokens,
            token_counter=_count, strategy="last", start_on="human", include_system=False,
        )


def _count(messages: list[BaseMessage]) -> int:
    return sum(count_tokens(str(message.content)) + 4 for message in messages)


def _list_intro(record: RecommendationRecord, refinement: Refinement | None, profile: ProfileResult | None) -> str:
    if not record.items:
        return "I found nothing that fits those filters; try loosening them."
    if record.cold_start:
        return "I don't know your taste yet, so here are popular picks. Tell me what you like to tailor them."
    if refinement is not None:
        return "Here is a list adjusted to what you asked:"
    if profile is not None:  # the forecast's own sentence: its probabilities and horizon, never a guess
        ahead = f" {profile.forecast.text}" if profile.forecast is not None else ""
        return without_node_ids(f"{profile.profile.profile}{ahead} Here are picks for you:", profile.labels)
    return "Here are picks for you, with why each one fits:"

