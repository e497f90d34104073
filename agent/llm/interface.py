"""The one way agent/ talks to an LLM: messages and an output model in, a validated object out.

Implementations provide only ``_complete`` (send messages with a JSON schema, return the
raw text). Everything else lives here, shared by the vLLM client and the test fake:
enum-constrained schemas, max_tokens sized from the schema, validation, one retry that
carries the validation error back to the model, and typed errors for the caller.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from agent.llm.choices import constrained_schema
from agent.llm.output_budget import max_output_tokens
from memory.tokens import count_tokens

OutputT = TypeVar("OutputT", bound=BaseModel)
Role = Literal["system", "user", "assistant"]

TOP_ALTERNATIVES = 20  # what vLLM returns at most: more chances for every label to be seen


@dataclass(frozen=True)
class Message:
    role: Role
    content: str


@dataclass(frozen=True)
class RawCompletion:
    """What a backend returns before any parsing."""

    text: str
    finish_reason: str = "stop"
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass(frozen=True)
class Generation(Generic[OutputT]):
    """A validated output plus what produced it."""

    value: OutputT
    model_id: str
    raw_text: str
    attempts: int
    latency_s: float
    prompt_tokens: int
    completion_tokens: int
    errors: list[str] = field(default_factory=list)


class LLMError(Exception):
    """Base of the errors callers handle by degrading to a deterministic answer."""


class LLMUnavailableError(LLMError):
    """The server could not be reached, timed out, or answered with an error."""


class LLMOutputError(LLMError):
    """The output stayed invalid after the retry."""

    def __init__(self, message: str, raw_texts: Sequence[str]):
        super().__init__(message)
        self.raw_texts = list(raw_texts)


class LLM(ABC):
    """A chat model that returns schema-valid pydantic objects."""

    model_id: str
    context_tokens: int = 4096
    max_attempts: int = 2

    @abstractmethod
    def _complete(
        self, messages: Sequence[Message], schema: dict[str, Any], schema_name: str, max_tokens: int,
        on_first_token: Callable[[], None] | None = None,
    ) -> RawCompletion:
        """Send the messages with the JSON schema as a structured-output constraint; call
        ``on_first_token`` once the model starts answering (its prompt is then in the prefix cache)."""

    def generate(
        self,
        messages: Sequence[Message],
        output_type: type[OutputT],
        *,
        choices: Mapping[str, Sequence[str]] | None = None,
        on_first_token: Callable[[], None] | None = None,
    ) -> Generation[OutputT]:
        """Ask for ``output_type``; ids named by choice fields must come from ``choices``.

        ``on_first_token`` is called when the first attempt starts answering (see ``_complete``)."""
        choices = {name: list(values) for name, values in (choices or {}).items()}
        schema = constrained_schema(output_type, choices)
        conversation = list(messages)
        raw_texts: list[str] = []
        errors: list[str] = []
        started = time.perf_counter()
        prompt_tokens = completion_tokens = 0
        for attempt in range(1, self.max_attempts + 1):
            max_tokens = self._max_tokens(conversation, schema)
            raw = self._complete(
                conversation, schema, output_type.__name__, max_tokens, on_first_token if attempt == 1 else None
            )
            raw_texts.append(raw.text)
            prompt_tokens += raw.prompt_tokens or _count_messages(conversation)
            completion_tokens += raw.completion_tokens or count_tokens(raw.text)
            try:
                if raw.finish_reason == "length":
                    raise _Truncated(f"output was cut at max_tokens={max_tokens}")
                value = output_type.model_validate_json(raw.text, context={"choices": choices})
            except (ValidationError, _Truncated) as error:
                errors.append(_short_error(error))
                conversation = [
                    *messages,
                    Message("assistant", raw.text),
                    Message("user", f"That output was invalid: {errors[-1]} Answer again with valid JSON only."),
                ]
                continue
            return Generation(
                value=value,
                model_id=self.model_id,
                raw_text=raw.text,
                attempts=attempt,
                latency_s=time.perf_counter() - started,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                errors=errors,
            )
        raise LLMOutputError(f"{output_type.__name__} still invalid after {self.max_attempts} attempts: {errors[-1]}", raw_texts)

    def ping(self) -> bool:
        """Whether the backend answers right now (health checks; never raises)."""
        return True

    def label_logprobs(self, messages: Sequence[Message], labels: Sequence[str]) -> dict[str, float]:
        """Log-probability of each label as the whole first answer token, from one forward pass.

        Labels the model's top alternatives do not include get the lowest seen value minus one:
        ranked below every label it did consider, without pretending to know how far below.
        """
        top = self._first_token_logprobs(messages, max(len(labels), TOP_ALTERNATIVES))
        seen: dict[str, float] = {}
        for token, logprob in top.items():
            key = token.strip()
            if key in labels and logprob > seen.get(key, -math.inf):
                seen[key] = logprob
        floor = min(seen.values(), default=0.0) - 1.0
        return {label: seen.get(label, floor) for label in labels}

    def _first_token_logprobs(self, messages: Sequence[Message], k: int) -> dict[str, float]:
        """The ``k`` most likely first tokens of the reply and their log-probabilities."""
        raise LLMUnavailableError(f"{type(self).__name__} cannot report token log-probabilities")

    def _max_tokens(self, conversation: Sequence[Message], schema: dict[str, Any]) -> int:
        """Enough for the longest valid output, within what the context has left."""
        room = self.context_tokens - _count_messages(conversation) - 64
        if room < 16:
            raise LLMOutputError("the prompt fills the model's context; shorten the summary budget", [])
        return max(16, min(max_output_tokens(schema), room))


class _Truncated(Exception):
    pass


def _count_messages(messages: Sequence[Message]) -> int:
    return sum(count_tokens(m.content) + 4 for m in messages)


def _short_error(error: Exception) -> str:
    if isinstance(error, ValidationError):
        parts = [f"{'.'.join(str(p) for p in e['loc']) or 'output'}: {e['msg']}" for e in error.errors()[:5]]
        return "; ".join(parts)
    return str(error)
