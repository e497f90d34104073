"""The catalog's words in the settings: the demo's preset, SHIFTREC_DOMAIN__* on top, handed to the agent."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from memory.domain import GENERIC_WORDS
from memory.grocery import GROCERY_WORDS, NOTICE
from memory.movielens import MOVIELENS_WORDS
from serving.settings import load_settings


@pytest.fixture(autouse=True)
def _no_domain_environment(monkeypatch: pytest.MonkeyPatch):
    for name in ("DEMO", "DOMAIN__NOUN", "DOMAIN__PLURAL", "DOMAIN__VERB", "DOMAIN__PAST", "DOMAIN__REPEATS",
                 "DOMAIN__ALIASES", "AGENT__ALLOW_SEEN"):
        monkeypatch.delenv(f"SHIFTREC_{name}", raising=False)


@pytest.mark.parametrize(
    ("demo", "words", "allow_seen", "notice"),
    [("ml-100k", MOVIELENS_WORDS, False, None), ("grocery", GROCERY_WORDS, True, NOTICE),
     ("none", GENERIC_WORDS, False, None)],
)
def test_each_demo_brings_its_words_its_seen_items_default_and_its_notice(demo, words, allow_seen, notice):
    settings = load_settings(demo=demo)
    config = settings.agent_config
    assert settings.domain_words == words and config.words == words
    assert config.agent.allow_seen is allow_seen and config.catalog_notice == notice


def test_the_default_demo_still_speaks_of_movies():
    assert load_settings().agent_config.words.noun == "movie"


def test_the_environment_names_the_words_of_your_own_catalog(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SHIFTREC_DEMO", "none")
    monkeypatch.setenv("SHIFTREC_DOMAIN__NOUN", "article")
    monkeypatch.setenv("SHIFTREC_DOMAIN__VERB", "read")
    monkeypatch.setenv("SHIFTREC_DOMAIN__PAST", "read")
    monkeypatch.setenv("SHIFTREC_DOMAIN__REPEATS", "true")
    words = load_settings().agent_config.words
    assert (words.noun, words.plural, words.verb, words.past, words.repeats) == ("article", "articles", "read",
                                                                                 "read", True)
    assert load_settings().agent_config.agent.allow_seen is True


def test_one_override_keeps_the_rest_of_the_demos_words(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SHIFTREC_DOMAIN__VERB", "stream")
    monkeypatch.setenv("SHIFTREC_DOMAIN__PAST", "streamed")
    words = load_settings(demo="ml-100k").domain_words
    assert (words.noun, words.verb, words.past, words.aliases) == ("movie", "stream", "streamed", ("film", "films"))
    monkeypatch.setenv("SHIFTREC_DOMAIN__NOUN", "show")
    monkeypatch.setenv("SHIFTREC_DOMAIN__PLURAL", "shows")
    renamed = load_settings(demo="ml-100k").domain_words
    assert (renamed.noun, renamed.plural, renamed.aliases) == ("show", "shows", ())  # "film" belonged to movies


def test_an_explicit_allow_seen_beats_the_domains_default(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SHIFTREC_AGENT__ALLOW_SEEN", "false")
    assert load_settings(demo="grocery").agent_config.agent.allow_seen is False
    monkeypatch.setenv("SHIFTREC_AGENT__ALLOW_SEEN", "true")
    assert load_settings(demo="ml-100k").agent_config.agent.allow_seen is True


def test_a_verb_without_its_past_form_is_refused_saying_what_to_set(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SHIFTREC_DOMAIN__VERB", "read")
    with pytest.raises(ValidationError, match="needs SHIFTREC_DOMAIN__PAST too"):
        load_settings()


def test_a_word_with_template_syntax_is_refused_at_load_naming_the_field(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SHIFTREC_DOMAIN__NOUN", "{{ system }}")
    with pytest.raises(ValidationError, match=r"domain\.noun[\s\S]*no braces"):
        load_settings()
