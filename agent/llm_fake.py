"""A scripted LLM for unit tests: it replays queued outputs and records every request."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from agent.llm import LLM, LLMUnavailableError, Message, RawCompletion


@dataclass(frozen=True)
class RecordedCall:
    messages: list[Message]
    schema: dict[str, Any]
    schema_name: str
    max_tokens: int


class ScriptedLLM(LLM):
    """Queue replies with :meth:`enqueue`: a pydantic object, raw JSON text, or an exception to raise."""

    def __init__(self, model_id: str = "scripted-fake", context_tokens: int = 4096):
        self.model_id = model_id
        self.context_tokens = context_tokens
        self.history: list[RecordedCall] = []
        self._replies: deque[BaseModel | str | Exception | RawCompletion] = deque()

    def enqueue(self, *replies: BaseModel | str | Exception | RawCompletion) -> ScriptedLLM:
        self._replies.extend(replies)
        return self

    @property
    def pending(self) -> int:
        return len(self._replies)

    def _complete(
        self, messages: Sequence[Message], schema: dict[str, Any], schema_name: str, max_tokens: int
    ) -> RawCompletion:
        self.history.append(RecordedCall(list(messages), schema, schema_name, max_tokens))
        if not self._replies:
            raise LLMUnavailableError("ScriptedLLM has no reply queued: enqueue one per expected call")
        reply = self._replies.popleft()
        if isinstance(reply, Exception):
            raise reply
        if isinstance(reply, RawCompletion):
            return reply
        if isinstance(reply, BaseModel):
            return RawCompletion(text=reply.model_dump_json())
        return RawCompletion(text=reply)
