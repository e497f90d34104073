"""Run a versioned prompt through the LLM; the result records prompt, version and model."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic

from agent.llm.interface import LLM, Generation, Message, OutputT
from prompts.loader import load_prompt


@dataclass(frozen=True)
class PromptResult(Generic[OutputT]):
    value: OutputT
    prompt_name: str
    prompt_version: int
    model_id: str
    generation: Generation[OutputT]


def run_prompt(
    llm: LLM,
    name: str,
    variables: Mapping[str, Any],
    *,
    choices: Mapping[str, Sequence[str]] | None = None,
    version: int | None = None,
    on_first_token: Callable[[], None] | None = None,
) -> PromptResult[Any]:
    """Render prompt ``name`` with ``variables`` and return its validated output."""
    prompt = load_prompt(name, version)
    rendered = prompt.render(**variables)
    messages = [Message("system", rendered.system), Message("user", rendered.user)]
    generation = llm.generate(messages, prompt.output_type(), choices=choices, on_first_token=on_first_token)
    return PromptResult(generation.value, prompt.name, prompt.version, generation.model_id, generation)
