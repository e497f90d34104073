"""Refinements parsed from chat and accumulated over a session."""

from __future__ import annotations

from agent.pipeline.refinement import Refinement, parse_refinement

TOPICS = {
    "Horror": "t:horror",
    "Comedy": "t:comedy",
    "Sci-Fi": "t:sci-fi",
    "Musical": "t:musical",
    "War": "t:war",
    "Animation": "t:animation",
    "Drama": "t:drama",
}


def test_no_and_without_exclude_topics():
    assert parse_refinement("no horror please", TOPICS).exclude_topics == {"t:horror"}
    assert parse_refinement("without the war movies", TOPICS).exclude_topics == {"t:war"}
    assert parse_refinement("skip the musicals", TOPICS).exclude_topics == {"t:musical"}


def test_less_dampens_and_more_boosts_without_excluding():
    refinement = parse_refinement("less horror, more comedies", TOPICS)
    assert refinement.exclude_topics == set()
    assert refinement.topic_boosts == {"t:horror": -1.0, "t:comedy": 1.0}


def test_synonyms_match_topics():
    assert parse_refinement("nothing scary, no science fiction", TOPICS).exclude_topics == {"t:horror", "t:sci-fi"}
    assert parse_refinement("only animated ones", TOPICS).topic_boosts == {"t:animation": 1.0}


def test_lighter_shifts_light_up_and_dark_down():
    boosts = parse_refinement("something lighter", TOPICS).topic_boosts
    assert boosts["t:comedy"] > 0 and boosts["t:animation"] > 0
    assert boosts["t:horror"] < 0 and boosts["t:war"] < 0
    assert "t:drama" not in boosts


def test_year_preference():
    assert parse_refinement("something newer?", TOPICS).year_preference == 1
    assert parse_refinement("older classics please", TOPICS).year_preference == -1
    assert parse_refinement("less horror", TOPICS).year_preference == 0


def test_turns_accumulate_and_asking_for_a_topic_lifts_its_exclusion():
    first = parse_refinement("no horror", TOPICS)
    second = parse_refinement("newer, and fewer dramas", TOPICS)
    merged = first.merged_with(second)
    assert merged.exclude_topics == {"t:horror"}
    assert merged.topic_boosts == {"t:drama": -1.0} and merged.year_preference == 1
    lifted = merged.merged_with(parse_refinement("ok, more horror after all", TOPICS))
    assert "t:horror" not in lifted.exclude_topics and lifted.topic_boosts["t:horror"] == 1.0


def test_plain_request_is_empty():
    assert parse_refinement("recommend something", TOPICS).is_empty
    assert Refinement().is_empty
