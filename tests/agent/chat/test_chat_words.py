"""The chat speaks the catalog's words: under grocery words every text it writes says "product" or
"buy" and never "movie", "film" or "watch"; positions accept the catalog's noun ("the second product")."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agent.chat.mentions import position_reference
from agent.chat.replies import help_text
from memory.domain import GENERIC_WORDS
from memory.grocery import GROCERY_WORDS
from memory.movielens import MOVIELENS_WORDS
from tests.agent_support import SchemaLLM, build_service

MOVIE_WORDS = re.compile(r"\b(?:movie|film|watch)", re.IGNORECASE)


def _texts(service, message: str, session: str = "g1") -> list[str]:
    events = list(service.chat(session, "ana", message))
    return [event.text for event in events if event.text] + [
        event.why.text for event in events if event.why is not None]


def test_every_chat_text_under_grocery_words_speaks_of_products(tmp_path: Path):
    service = build_service(tmp_path, None, GROCERY_WORDS)
    spoken = _texts(service, "loved that one", session="g0")  # nothing shown yet: which one?
    for message in ("recommend something", "why the second product?", "loved it", "hello", "what is my taste?"):
        spoken += _texts(service, message)
    assert spoken and not [text for text in spoken if MOVIE_WORDS.search(text)]
    joined = " ".join(spoken)
    assert "Which product do you mean?" in joined and "I can recommend products" in joined
    assert "Glad you liked" in joined  # "loved it" right after "why the second product?" is about that one
    assert "products bought together" in joined or "what people buy next" in joined  # the why's sources


def test_the_second_product_is_the_second_item_of_the_list(tmp_path: Path):
    service = build_service(tmp_path, None, GROCERY_WORDS)
    listed = next(e for e in list(service.chat("g2", "ana", "recommend something")) if e.kind == "recommendations")
    answer = next(e for e in list(service.chat("g2", "ana", "why the second product?")) if e.kind == "why")
    assert answer.why.item_id == listed.record.items[1].item_id


def test_the_llms_prompts_carry_the_catalogs_words(tmp_path: Path):
    llm = SchemaLLM()
    service = build_service(tmp_path, llm, GROCERY_WORDS)
    list(service.chat("g3", "ana", "hello"))
    service.recommend("ana", count=2)
    systems = {name: messages[0].content for name, messages in llm.calls}
    assert systems and all("product" in text and not MOVIE_WORDS.search(text) for text in systems.values())


def test_help_names_the_catalogs_items_and_one_of_its_topics():
    assert help_text(GROCERY_WORDS, "Dairy").startswith('I can recommend products ("recommend something"), '
                                                       'adjust them ("less dairy", "something newer")')
    assert "I can recommend movies" in help_text(MOVIELENS_WORDS)
    assert "less" not in help_text(GENERIC_WORDS)  # no topic known: no made-up example


@pytest.mark.parametrize(
    ("text", "words", "index"),
    [("the second movie", MOVIELENS_WORDS, 1), ("why the third film?", MOVIELENS_WORDS, 2),
     ("the last product", GROCERY_WORDS, 4), ("the first products", GROCERY_WORDS, 0),
     ("the second one", GROCERY_WORDS, 1), ("the second movie", GROCERY_WORDS, None),
     ("the second item", GENERIC_WORDS, 1)],
)
def test_positions_accept_the_catalogs_nouns(text: str, words, index: int | None):
    assert position_reference(text, 5, words) == index
