"""Pieces of the agent tests: a schema-reading fake LLM, a fixed intent router, a service on
the small catalog with a few users whose histories make co-occurrence and SASRec meaningful."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from agent.chat.intents import Intent, RoutedIntent
from agent.llm.interface import LLM, LLMUnavailableError, Message, RawCompletion
from agent.rankers.behaviour import BehaviourModels
from agent.rankers.sequential import SequentialConfig
from agent.service import ShiftRecService
from memory.domain import DomainWords
from memory.service import InterestMemory
from serving.settings import load_settings
from tests.memory_support import BagOfWordsEmbedder, comedy_then_scifi, event, memory_settings, movie_catalog

TINY_SASREC = SequentialConfig(max_len=10, hidden=16, blocks=1, epochs=2, batch_size=16)


class SchemaLLM(LLM):
    """Answers any schema with a valid object: the ``pick``-th value of every enum, short text.

    ``invent_first`` makes the first answer of each request cite an id outside the enums
    (as an unconstrained model would), so the retry path runs. ``fail`` raises instead.
    ``logprobs`` answers first-token requests.
    """

    def __init__(self, pick: int = 0, invent_first: bool = False, fail: bool = False,
                 logprobs: Callable[[Sequence[Message]], dict[str, float]] | None = None):
        self.model_id = "schema-fake"
        self.pick = pick
        self.invent_first = invent_first
        self.fail = fail
        self.logprobs = logprobs
        self.calls: list[tuple[str, list[Message]]] = []
        self._lock = threading.Lock()

    def _complete(self, messages: Sequence[Message], schema: dict[str, Any], schema_name: str, max_tokens: int,
                  on_first_token: Callable[[], None] | None = None):
        if on_first_token is not None and not self.fail:
            on_first_token()
        with self._lock:
            self.calls.append((schema_name, list(messages)))
        if self.fail:
            raise LLMUnavailableError("fake LLM is down")
        retry = any(m.content.startswith("That output was invalid") for m in messages)
        invent = self.invent_first and not retry
        return RawCompletion(text=json.dumps(self._value(schema, invent)))

    def _first_token_logprobs(self, messages: Sequence[Message], k: int) -> dict[str, float]:
        with self._lock:
            self.calls.append(("logprobs", list(messages)))
        if self.fail or self.logprobs is None:
            raise LLMUnavailableError("fake LLM is down")
        return self.logprobs(messages)

    def _value(self, schema: dict[str, Any], invent: bool) -> Any:
        if "enum" in schema:
            return "invented-id" if invent else schema["enum"][min(self.pick, len(schema["enum"]) - 1)]
        kind = schema.get("type")
        if kind == "object":
            return {name: self._value(child, invent) for name, child in schema["properties"].items()}
        if kind == "array":
            return [self._value(schema["items"], invent) for _ in range(max(1, schema.get("minItems", 1)))]
        if kind == "string":
            return "fits what you chose lately"[: schema.get("maxLength", 100)]
        if kind in ("number", "integer"):
            return 0.5
        if kind == "boolean":
            return True
        raise AssertionError(f"the fake cannot answer schema {schema}")


class FixedRouter:
    """Routes by the first keyword found (a fake behind the IntentRouter interface)."""

    KEYWORDS = [("why", Intent.WHY), ("not for me", Intent.FEEDBACK), ("loved", Intent.FEEDBACK),
                ("i like", Intent.RECOMMEND), ("taste", Intent.PROFILE), ("no ", Intent.REFINE),
                ("recommend", Intent.RECOMMEND), ("hello", Intent.OTHER)]

    def route(self, text: str) -> RoutedIntent:
        lowered = text.lower()
        intent = next((intent for word, intent in self.KEYWORDS if word in lowered), Intent.OTHER)
        return RoutedIntent(intent, 1.0, "classifier")


def loaded_memory(data_dir: Path) -> InterestMemory:
    """The small catalog plus: ana (comedy, then sci-fi), bob and cy (sci-fi fans), dee (comedy fan)."""
    memory = InterestMemory.open(memory_settings(data_dir), BagOfWordsEmbedder())
    memory.add_items(movie_catalog())
    events = comedy_then_scifi("ana", per_genre=10)
    events += [event("bob", f"sf{i}", i, "rate", 5.0) for i in range(0, 20)]
    events += [event("cy", f"sf{i}", i, "rate", 4.0) for i in range(5, 24)]
    events += [event("dee", f"com{i}", i, "rate", 5.0) for i in range(0, 20)]
    memory.ingest(events, progress=False)
    return memory


def build_service(data_dir: Path, llm: LLM | None, words: DomainWords | None = None,
                  service_class: type[ShiftRecService] = ShiftRecService, **agent: object) -> ShiftRecService:
    """The service on :func:`loaded_memory`; ``words`` replaces the demo's (MovieLens) catalog words;
    ``service_class``: a subclass standing in for one of its parts. Every LLM role is open (the fakes
    test the LLM paths) unless ``llm_roles`` says otherwise."""
    agent.setdefault("llm_roles", "all")
    memory = loaded_memory(data_dir)
    base = load_settings(data_dir=data_dir).agent_config
    settings = base.model_copy(update={"agent": base.agent.model_copy(update=agent), "words": words or base.words})
    behaviour = BehaviourModels.from_log(memory.event_log(), data_dir / "sasrec.pt", config=TINY_SASREC)
    return service_class(settings, memory, llm, behaviour, FixedRouter())
