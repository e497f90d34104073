"""Every prompt file renders with its sample, fits its token budget, and names a real output model."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from memory.tokens import count_tokens
from prompts.loader import PromptError, available_prompts, load_prompt

ALL_PROMPTS = [(name, version) for name, versions in available_prompts().items() for version in versions]


def test_there_are_prompts():
    assert ("rerank", 1) in ALL_PROMPTS


@pytest.mark.parametrize(("name", "version"), ALL_PROMPTS)
def test_prompt_renders_within_budget(name: str, version: int):
    prompt = load_prompt(name, version)
    rendered = prompt.render(**prompt.sample)
    tokens = count_tokens(rendered.system) + count_tokens(rendered.user)
    assert 0 < tokens <= prompt.token_budget, f"{rendered.label} uses {tokens} tokens"
    assert "{{" not in rendered.user and "{%" not in rendered.user
    assert issubclass(prompt.output_type(), BaseModel)


def test_missing_variable_is_an_error_not_blank():
    prompt = load_prompt("rerank")
    variables = dict(prompt.sample)
    del variables["summary"]
    with pytest.raises(PromptError, match="summary"):
        prompt.render(**variables)


def test_rendered_prompt_contains_the_sample_ids():
    prompt = load_prompt("rerank", 1)
    rendered = prompt.render(**prompt.sample)
    assert "- i2: Galaxy Quest [Comedy, Sci-Fi]" in rendered.user
    assert "- e1: rated Alien 5/5" in rendered.user
    assert rendered.label == "rerank/v1"


def test_unknown_prompt_and_version_say_what_exists():
    with pytest.raises(PromptError, match="known: .*rerank"):
        load_prompt("nope")
    with pytest.raises(PromptError, match=r"no version 99; known: \[1"):
        load_prompt("rerank", 99)
