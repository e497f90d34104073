"""`ChatBackend`: what a chat turn may ask of the recommender, and nothing more.

:class:`agent.service.ShiftRecService` implements it and hands itself to
:class:`agent.chat.conversation.Conversations`, so the chat never imports the service
(no cycle) and a test can drive the chat with any object that has these members.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from agent.chat.intents import RoutedIntent
from agent.chat.topic_words import TopicLexicon
from agent.edits import EditOutcome
from agent.explain.records import RecommendationRecord
from agent.explain.why import WhyAnswer
from agent.llm.interface import LLM
from agent.pipeline.refinement import Refinement
from agent.profiler import ProfileResult
from agent.roles.gate import RoleGate
from agent.service_models import FeedbackResult, RecommendationEvent
from memory.models import Item

if TYPE_CHECKING:  # the chat's own modules import this protocol
    from agent.chat.sessions import SessionState
    from agent.chat.turns import TurnContext


class IntentRoute(Protocol):
    def route(self, text: str) -> RoutedIntent: ...


class RecordLookup(Protocol):
    def find_by_title(self, user: str, text: str, limit: int = 10) -> tuple[RecommendationRecord, str] | None: ...


class ChatBackend(Protocol):
    llm: LLM | None
    roles: RoleGate
    intents: IntentRoute
    records: RecordLookup

    def recommend_stream(self, user: str, count: int | None = None, refinement: Refinement | None = None,
                         include_seen: bool = False, explain: bool = True,
                         hide: set[str] | frozenset[str] = frozenset()) -> Iterator[RecommendationEvent]: ...

    def why(self, user: str, record_id: str, item_id: str, phrase: bool = False) -> WhyAnswer: ...

    def feedback(self, user: str, item_id: str, positive: bool) -> FeedbackResult: ...

    def profile(self, user: str) -> ProfileResult: ...

    def profile_if_ready(self, user: str) -> ProfileResult | None: ...

    def topic_ids(self) -> dict[str, str]: ...

    def recent_items(self, user: str) -> list[Item]: ...

    def find_titles(self, text: str) -> list[str]: ...

    def state_preference(self, user: str, text: str) -> list[Item]: ...

    def lexicon(self) -> TopicLexicon: ...

    def turn_context(self, state: SessionState) -> TurnContext: ...

    def item_titles(self, ids: Sequence[str]) -> dict[str, str]: ...

    def edit_memory(self, user: str, request: Any) -> EditOutcome: ...

    def describe_memory(self, user: str) -> tuple[str, ProfileResult | None]: ...
