"""Prompts take the catalog's words: the served versions say "product" for groceries and never
"movie", and a system prompt uses no variable but those words (the leak guard renders it alone)."""

from __future__ import annotations

import re

import pytest

from agent.explain.explainer import EXPLAIN_PROMPT, PICK_VERSION, WORDS_VERSION
from agent.llm.preference import RANK_PROMPT, RANK_VERSION
from memory.domain import GENERIC_WORDS, DomainWords
from memory.grocery import GROCERY_WORDS
from memory.movielens import MOVIELENS_WORDS
from prompts.loader import available_prompts, load_prompt, template_variables

WORD_VARIABLES = set(GENERIC_WORDS.prompt_variables())
MOVIE_WORDS = re.compile(r"\b(?:movie|film|watch)", re.IGNORECASE)
# what the code runs: the newest version of each prompt, and the explainer's and the ranking's chosen ones
SERVED = sorted({(name, versions[-1]) for name, versions in available_prompts().items()}
                | {(EXPLAIN_PROMPT, PICK_VERSION), (EXPLAIN_PROMPT, WORDS_VERSION), (RANK_PROMPT, RANK_VERSION)})
ALL_PROMPTS = [(name, version) for name, versions in available_prompts().items() for version in versions]


def _rendered(name: str, version: int, words: DomainWords) -> str:
    prompt = load_prompt(name, version)
    rendered = prompt.render(**{**prompt.sample, **words.prompt_variables()})
    return f"{rendered.system}\n{rendered.user}"


@pytest.mark.parametrize(("name", "version"), SERVED)
def test_a_served_prompt_speaks_of_the_catalogs_items_never_of_movies(name: str, version: int):
    for words in (GROCERY_WORDS, GENERIC_WORDS):
        text = _rendered(name, version, words)
        assert not MOVIE_WORDS.search(text), f"{name}/v{version} with {words.noun!r}: {MOVIE_WORDS.search(text)}"
    prompt = load_prompt(name, version)
    if template_variables(prompt.system + prompt.user) & WORD_VARIABLES:
        assert "product" in _rendered(name, version, GROCERY_WORDS)
        assert "movie" in _rendered(name, version, MOVIELENS_WORDS).lower()  # the demo's words come through


@pytest.mark.parametrize(("name", "version"), ALL_PROMPTS)
def test_a_system_prompt_uses_only_the_catalogs_words(name: str, version: int):
    assert template_variables(load_prompt(name, version).system) <= WORD_VARIABLES


def test_the_worded_versions_keep_their_predecessors_wording():
    for (name, new), old in {("rank", 2): 1, ("chat", 2): 1, ("why", 2): 1, ("intent", 2): 1,
                             ("explain", 6): 5, ("explain", 7): 4}.items():
        assert _rendered(name, new, MOVIELENS_WORDS) == _rendered(name, old, MOVIELENS_WORDS), f"{name}/v{new}"


def test_capitalised_changes_only_the_first_letter():
    words = DomainWords(noun="TV show", plural="TV shows", verb="watch", past="watched")
    assert "TV shows the person liked:" in _rendered("explain", PICK_VERSION, words)
