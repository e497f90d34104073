"""The web UI's copy in the catalog's words, and the notice that the grocery data is simulated."""

from __future__ import annotations

import re
from pathlib import Path

from memory.grocery import GROCERY_WORDS, NOTICE
from memory.movielens import MOVIELENS_WORDS
from serving.ui import build_ui, chat_placeholder, title_markdown
from serving.ui_handlers import UIHandlers
from tests.agent_support import SchemaLLM, build_service

MOVIE_WORDS = re.compile(r"\b(?:movie|film|watch)", re.IGNORECASE)


def _markdown_texts(blocks) -> list[str]:
    return [c["props"]["value"] for c in blocks.get_config_file()["components"] if c.get("type") == "markdown"]


def test_the_title_and_placeholder_follow_the_catalog():
    assert "Movie picks that follow how your taste moves" in title_markdown(MOVIELENS_WORDS)
    assert "Product picks that follow how your taste moves" in title_markdown(GROCERY_WORDS)
    assert chat_placeholder(GROCERY_WORDS).startswith("Something to buy next?")
    assert chat_placeholder(MOVIELENS_WORDS).startswith("Something to watch next?")


def test_the_notice_is_shown_under_the_title_as_text():
    shown = title_markdown(GROCERY_WORDS, NOTICE)
    assert shown.startswith(title_markdown(GROCERY_WORDS)) and "simulated from a retailer" in shown
    assert "simulated" not in title_markdown(MOVIELENS_WORDS, None)


def test_a_grocery_ui_says_products_says_the_data_is_simulated_and_never_speaks_of_movies(tmp_path: Path):
    service = build_service(tmp_path, SchemaLLM(), GROCERY_WORDS)
    service.settings = service.settings.model_copy(update={"catalog_notice": NOTICE})
    blocks = build_ui(service, demo_users=["ana"])
    texts = _markdown_texts(blocks)
    assert any("Product picks" in text and "simulated" in text for text in texts)
    config = blocks.get_config_file()
    chat_input = next(c for c in config["components"] if c.get("props", {}).get("elem_id") == "chat-input")
    copy = texts + [chat_input["props"]["placeholder"]]
    greeting = next(UIHandlers(service).sign_in("ana")).history[0]["content"]
    assert "something to buy" in greeting
    assert not [text for text in [*copy, greeting] if MOVIE_WORDS.search(text)]


def test_the_default_demo_ui_still_speaks_of_movies(tmp_path: Path):
    service = build_service(tmp_path, SchemaLLM())
    assert any("Movie picks" in text for text in _markdown_texts(build_ui(service, demo_users=["ana"])))
    assert "something to watch" in next(UIHandlers(service).sign_in("ana")).history[0]["content"]
