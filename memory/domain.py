"""`DomainWords`: what the catalog's items are called ("movie / watch", "product / buy").

Every text a person or the LLM reads (chat replies, prompts, the UI) takes its nouns and
verbs from here, so one product serves any catalog. Each demo loader keeps its own words
(``memory.movielens.MOVIELENS_WORDS``, ``memory.grocery.GROCERY_WORDS``); a catalog of your
own gets :data:`GENERIC_WORDS` unless the settings name better ones.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

MAX_WORD_CHARS = 30
_WORD = re.compile(r"[^\W\d_][\w' -]*", re.UNICODE)  # letters first; then letters, digits, spaces, - and '


def _check_word(value: str) -> str:
    """A word fit for prompts and UI copy: short, plain, nothing a template would read as code."""
    word = value.strip()
    if not word:
        raise ValueError("a domain word is empty: give one, e.g. 'article'")
    if len(word) > MAX_WORD_CHARS or not _WORD.fullmatch(word):
        raise ValueError(f"domain word {value!r}: use at most {MAX_WORD_CHARS} letters, spaces, hyphens or "
                         "apostrophes (no braces, markup or punctuation), e.g. 'article'")
    return word


Word = Annotated[str, AfterValidator(_check_word)]


class DomainWords(BaseModel):
    """The item noun, its plural and the consuming verb, as people say them about this catalog."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    noun: Word = Field(description="One item, e.g. 'movie', 'product', 'article'.")
    plural: Word = Field(description="Several items, e.g. 'movies'.")
    verb: Word = Field(description="What a person does with an item, e.g. 'watch', 'buy', 'read'.")
    past: Word = Field(description="The verb's past form, e.g. 'watched', 'bought', 'read'.")
    repeats: bool = Field(
        default=False, description="People consume the same item again (groceries: yes; movies: no): the default "
        "for whether items the person already has may be recommended again.",
    )
    aliases: tuple[Word, ...] = Field(
        default=(), description="Other nouns people use for an item, singular and plural (e.g. 'film', 'films'): "
        "the chat understands them too ('the second film').",
    )

    @property
    def nouns(self) -> tuple[str, ...]:
        """Every noun the chat should understand for an item, longest first (for regex alternatives)."""
        return tuple(sorted({self.noun, self.plural, *self.aliases}, key=lambda noun: (-len(noun), noun)))

    @property
    def a_noun(self) -> str:
        """The noun with its indefinite article, chosen by its first letter: 'a movie', 'an item'."""
        return f"{'an' if self.noun[0].lower() in 'aeiou' else 'a'} {self.noun}"

    def prompt_variables(self) -> dict[str, str]:
        """The words as prompt template variables: ``noun``, ``a_noun``, ``plural``, ``verb``, ``past``."""
        return {"noun": self.noun, "a_noun": self.a_noun, "plural": self.plural, "verb": self.verb, "past": self.past}


def capitalised(text: str) -> str:
    """'movies' -> 'Movies', 'TV shows' stays 'TV shows' (only the first letter changes)."""
    return text[:1].upper() + text[1:]


GENERIC_WORDS = DomainWords(noun="item", plural="items", verb="try", past="tried")
