"""Last check on LLM free text before a person sees it: no piece of our instructions.

The LLM sees only the person's own data, so it cannot leak anyone else's; what it could
echo is its prompt. Any output that repeats a run of words from a prompt's system
instructions is replaced by the deterministic answer.
"""

from __future__ import annotations

import re
from functools import lru_cache

from prompts.loader import available_prompts, load_prompt

RUN_WORDS = 6  # this many consecutive instruction words in an output count as a leak
_WORD = re.compile(r"[a-z0-9']+")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


@lru_cache(maxsize=1)
def _instruction_runs() -> frozenset[tuple[str, ...]]:
    runs: set[tuple[str, ...]] = set()
    for name, versions in available_prompts().items():
        for version in versions:
            words = _words(load_prompt(name, version).system)
            runs.update(tuple(words[i : i + RUN_WORDS]) for i in range(len(words) - RUN_WORDS + 1))
    return frozenset(runs)


def leaks_instructions(text: str) -> bool:
    """True when ``text`` repeats ``RUN_WORDS`` consecutive words of any system prompt."""
    words = _words(text)
    runs = _instruction_runs()
    return any(tuple(words[i : i + RUN_WORDS]) in runs for i in range(len(words) - RUN_WORDS + 1))

