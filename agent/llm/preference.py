"""The LLM's preference over all candidates from one forward pass.

Each candidate gets a one-letter label; the prompt ends where the answer's first token
would name the best one, and the log-probabilities of the letters among that token's
top alternatives score every candidate at once (no generation, one request). Letters
that are single tokens in common tokenizers keep the label a whole token.
"""

from __future__ import annotations

import string
from collections.abc import Sequence

from agent.llm.interface import LLM, Message
from memory.domain import GENERIC_WORDS, DomainWords
from memory.models import Item
from prompts.loader import load_prompt

RANK_PROMPT, RANK_VERSION = "rank", 2
LABELS = tuple(string.ascii_uppercase)


def llm_preference(llm: LLM, profile: str, recent_titles: Sequence[str], items: Sequence[Item],
                   domain: DomainWords = GENERIC_WORDS) -> dict[str, float]:
    """Item id -> log-probability that the LLM picks it first (higher is preferred)."""
    if len(items) > len(LABELS):
        raise ValueError(f"at most {len(LABELS)} candidates can be labelled in one pass, got {len(items)}")
    labelled = [
        {"label": label, "title": item.title, "categories": item.categories}
        for label, item in zip(LABELS, items, strict=False)
    ]
    prompt = load_prompt(RANK_PROMPT, RANK_VERSION)
    rendered = prompt.render(profile=profile, recent=list(recent_titles), candidates=labelled,
                             **domain.prompt_variables())
    messages = [Message("system", rendered.system), Message("user", rendered.user)]
    scores = llm.label_logprobs(messages, [entry["label"] for entry in labelled])
    return {item.id: scores[label] for label, item in zip(LABELS, items, strict=False)}
