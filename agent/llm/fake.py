"""A scripted LLM for unit tests: it replays queued outputs and records every request."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from agent.llm.interface import LLM, LLMUnavailableError, Message, RawCompletion


@dataclass(frozen=True)
class RecordedCall:
    messages: list[Message]
    schema: dict[str, Any]
    schema_name: str
    max_tokens: int


class ScriptedLLM(LLM):
    """Queue replies with :meth:`enqueue`: a pydantic object, raw JSON text, a token->logprob dict, or an exception."""

    def __init__(self, model_id: str = "scripted-fake", context_tokens: int = 4096):
        self.model_id = model_id
        self.context_tokens = context_tokens
        self.history: list[RecordedCall] = []
        self._replies: deque[BaseModel | str | Exception | RawCompletion | dict] = deque()

    def enqueue(self, *replies: BaseModel | str | Exception | RawCompletion | dict) -> ScriptedLLM:
        self._replies.extend(replies)
        return self

    @property
    def pending(self) -> int:
        return len(self._replies)

    def _next_reply(self, call: RecordedCall) -> BaseModel | str | RawCompletion | dict:
        """Record the call and take the next queued reply (raising it when it is an exception)."""
        self.history.append(call)
        if not self._replies:
            raise LLMUnavailableError("ScriptedLLM has no reply queued: enqueue one per expected call")
        reply = self._replies.popleft()
        if isinstance(reply, Exception):
            raise reply
        return reply

    def _first_token_logprobs(self, messages: Sequence[Message], k: int) -> dict[str, float]:
        """Replays a queued ``dict`` of token -> logprob (or raises a queued exception)."""
        reply = self._next_reply(RecordedCall(list(messages), {}, "first-token-logprobs", 1))
        if not isinstance(reply, dict):
            raise TypeError(f"a logprob request needs a queued dict, got {type(reply).__name__}")
        return dict(list(reply.items())[:k])

    def _complete(
        self, messages: Sequence[Message], schema: dict[str, Any], schema_name: str, max_tokens: int,
        on_first_token: Callable[[], None] | None = None,
    ) -> RawCompletion:
        if on_first_token is not None:
            on_first_token()
        reply = self._next_reply(RecordedCall(list(messages), schema, schema_name, max_tokens))
        if isinstance(reply, RawCompletion):
            return reply
        if isinstance(reply, BaseModel):
            return RawCompletion(text=reply.model_dump_json())
        return RawCompletion(text=reply)
