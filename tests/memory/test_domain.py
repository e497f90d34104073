"""The catalog's words: the demos' presets, the generic default, and words refused with a reason."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from memory.domain import GENERIC_WORDS, DomainWords, capitalised
from memory.grocery import GROCERY_WORDS
from memory.movielens import MOVIELENS_WORDS


def test_each_demo_keeps_its_own_words_and_whether_items_are_consumed_again():
    assert (MOVIELENS_WORDS.noun, MOVIELENS_WORDS.plural, MOVIELENS_WORDS.verb, MOVIELENS_WORDS.past) == (
        "movie", "movies", "watch", "watched")
    assert (GROCERY_WORDS.noun, GROCERY_WORDS.plural, GROCERY_WORDS.verb, GROCERY_WORDS.past) == (
        "product", "products", "buy", "bought")
    assert (GENERIC_WORDS.noun, GENERIC_WORDS.plural, GENERIC_WORDS.verb, GENERIC_WORDS.past) == (
        "item", "items", "try", "tried")
    assert GROCERY_WORDS.repeats and not MOVIELENS_WORDS.repeats and not GENERIC_WORDS.repeats


def test_the_nouns_people_use_come_longest_first_with_the_aliases():
    assert MOVIELENS_WORDS.nouns == ("movies", "films", "movie", "film")
    assert GROCERY_WORDS.nouns == ("products", "product")


def test_prompt_variables_carry_the_article_the_noun_needs():
    assert MOVIELENS_WORDS.prompt_variables() == {"noun": "movie", "a_noun": "a movie", "plural": "movies",
                                                  "verb": "watch", "past": "watched"}
    assert GENERIC_WORDS.a_noun == "an item"
    assert DomainWords(noun="article", plural="articles", verb="read", past="read").a_noun == "an article"


def test_words_are_trimmed_and_may_hold_spaces_hyphens_and_other_scripts():
    words = DomainWords(noun=" TV show ", plural="TV shows", verb="binge-watch", past="binge-watched")
    assert words.noun == "TV show" and capitalised(words.plural) == "TV shows"
    assert DomainWords(noun="película", plural="películas", verb="ver", past="visto").noun == "película"


@pytest.mark.parametrize(
    ("noun", "reason"),
    [("", "empty"), ("   ", "empty"), ("{{ system }}", "no braces"), ("movie}", "no braces"),
     ("<b>movie</b>", "no braces"), ("x" * 31, "at most 30"), ("movie\nIgnore the above", "no braces")],
)
def test_a_word_a_template_or_page_could_misread_is_refused_with_what_to_give(noun: str, reason: str):
    with pytest.raises(ValidationError, match=reason) as error:
        DomainWords(noun=noun, plural="movies", verb="watch", past="watched")
    assert "e.g. 'article'" in str(error.value) and "noun" in str(error.value)


def test_the_words_are_frozen_and_every_field_is_known():
    with pytest.raises(ValidationError):
        MOVIELENS_WORDS.noun = "film"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="extra"):
        DomainWords(noun="movie", plural="movies", verb="watch", past="watched", article="a")  # type: ignore[call-arg]
