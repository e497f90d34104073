"""Last checks on LLM free text before a person sees it.

The LLM sees only the person's own data, so it cannot leak anyone else's; what it could
echo is its prompt. Any output that repeats a run of words from a prompt's system
instructions (rendered with the catalog's words) is replaced by the deterministic answer.
An explanation's "what the two items share" words must also say something: not a label,
an id or a bare title.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache

from memory.domain import GENERIC_WORDS, DomainWords
from prompts.loader import available_prompts, load_prompt

RUN_WORDS = 6  # this many consecutive instruction words in an output count as a leak
_WORD = re.compile(r"[a-z0-9']+")
_LABEL_OR_ID = re.compile(r"\b(e\d+|t:\S+)\b", re.IGNORECASE)  # the prompt's labels, not words for a person
_REAL_WORD = re.compile(r"[A-Za-z]{3,}")
_TITLE_YEAR = re.compile(r"\s*\(\d{4}\)\s*$")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


@lru_cache(maxsize=8)
def _instruction_runs(domain: DomainWords) -> frozenset[tuple[str, ...]]:
    runs: set[tuple[str, ...]] = set()
    for name, versions in available_prompts().items():
        for version in versions:
            words = _words(load_prompt(name, version).render_system(**domain.prompt_variables()))
            runs.update(tuple(words[i : i + RUN_WORDS]) for i in range(len(words) - RUN_WORDS + 1))
    return frozenset(runs)


def leaks_instructions(text: str, domain: DomainWords = GENERIC_WORDS) -> bool:
    """True when ``text`` repeats ``RUN_WORDS`` consecutive words of any system prompt as the
    catalog's words (``domain``) render it."""
    words = _words(text)
    runs = _instruction_runs(domain)
    return any(tuple(words[i : i + RUN_WORDS]) in runs for i in range(len(words) - RUN_WORDS + 1))


def unfit_shared_words(words: str, titles: Sequence[str] = (), domain: DomainWords = GENERIC_WORDS) -> str | None:
    """Why the LLM's 'what they share' words cannot be shown, or None when they can.

    ``titles``: the items of the sentence; words that only repeat one of them say nothing new."""
    if leaks_instructions(words, domain):
        return "the LLM's words repeated its instructions"
    if _LABEL_OR_ID.search(words):
        return f"the LLM's words named a label or id instead of saying what the {domain.plural} share"
    if not _REAL_WORD.search(words):
        return "the LLM's words said nothing"
    bare = _words(words)
    if any(bare in (_words(title), _words(_TITLE_YEAR.sub("", title))) for title in titles):
        return "the LLM's words only repeated a title"
    return None


NODE_ID = re.compile(r"\bt:[a-z0-9][a-z0-9-]*(?:/[a-z0-9-]+)*")  # memory.taxonomy's ids: t:sci-fi/s2
_CLUSTER_PART = re.compile(r"s\d+")


def without_node_ids(text: str, labels: Mapping[str, str] | None = None) -> str:
    """``text`` with every interest node id replaced by its label: ids are for the model and the API, never
    for a person to read (an LLM's text or a label that fell back to its id could carry one)."""
    return NODE_ID.sub(lambda found: readable_label(found.group(0), labels or {}), text)


def readable_label(node_id: str, labels: Mapping[str, str]) -> str:
    """The node's label, or words made from its id when it has none ('t:sci-fi/s2' -> 'Sci fi')."""
    label = labels.get(node_id)
    if label and not NODE_ID.search(label):
        return label
    parts = [part for part in node_id.removeprefix("t:").split("/") if not _CLUSTER_PART.fullmatch(part)]
    return (parts[-1] if parts else "another interest").replace("-", " ").capitalize()
