"""What a chat turn streams (:class:`ChatEvent`) and the turn in progress the handlers work on
(:class:`TurnRun`): kept apart from the conversation so the handlers need not import it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.chat.intents import Intent
from agent.chat.sessions import SessionState
from agent.chat.turns import Turn
from agent.explain.records import Explanation, RecommendationRecord
from agent.explain.why import WhyAnswer
from agent.roles.names import COMPUTED
from memory.domain import DomainWords

if TYPE_CHECKING:
    from agent.chat.backend import ChatBackend


class ChatEvent(BaseModel):
    """One piece of a reply: text, the list, an explanation as it arrives, an answer, or the end."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    kind: Literal["text", "recommendations", "explanation", "why", "profile", "feedback", "edit", "done"]
    session_id: str
    intent: Intent
    text: str | None = None
    record: RecommendationRecord | None = None
    item_id: str | None = None
    explanation: Explanation | None = None
    why: WhyAnswer | None = None
    profile: dict | None = Field(default=None, description="The profile view (see ShiftRecService.profile).")
    edit: dict | None = Field(default=None, description="The memory edit made (see ShiftRecService.edit_memory).")
    active: list[str] = Field(default_factory=list, description="Refinements active in the session, in words.")
    made_by: str = Field(default=COMPUTED, description="How the text was made: 'computed from your history' or "
                         "'written by <model>'.")


class TurnRun:
    """One turn in progress: the session's state, the turn read, and how to emit events."""

    def __init__(self, session_id: str, state: SessionState, message: str, turn: Turn, backend: ChatBackend,
                 domain: DomainWords):
        self.session_id, self.state, self.message, self.turn = session_id, state, message, turn
        self.backend, self.domain = backend, domain

    @property
    def user(self) -> str:
        return self.state.user

    def event(self, kind: str, **fields) -> ChatEvent:
        return ChatEvent(kind=kind, session_id=self.session_id, intent=self.turn.intent, **fields)

    def text(self, text: str, made_by: str = COMPUTED) -> ChatEvent:
        return self.event("text", text=text, made_by=made_by)
