"""The slot grammar: topics with the operator before or after them, list continuation, talk that is no
request, years and decades, counts, anchors, seen, surprise, mood, start over; any level of a tree."""

from __future__ import annotations

import pytest

from agent.chat.phrasing import regular
from agent.chat.slots import SlotContext, TurnSlots, read_slots
from agent.chat.years import read_years
from tests.agent.chat.lexicons import grocery_lexicon, movie_lexicon

MOVIES, GROCERY = movie_lexicon(), grocery_lexicon()


def _slots(text: str, lexicon=MOVIES, position=None, titles=None) -> set[tuple[str, str]]:
    context = SlotContext(lexicon=lexicon, nouns=("movies", "movie"), position_in=position or (lambda _: None),
                          titles_in=titles or (lambda _: []))
    slots = read_slots(regular(text), context)
    return slots.pairs(lexicon.labels(), {"i1": "Toy Story (1995)"})


@pytest.mark.parametrize(("text", "expected"), [
    ("no horror, something from the 90s, three of them",
     {("exclude", "horror"), ("years", "1990-1999"), ("count", "3")}),
    ("anything but comedies", {("exclude", "comedy")}),
    ("nothing but comedies", {("only", "comedy")}),
    ("less horror, more comedy", {("avoid", "horror"), ("prefer", "comedy")}),
    ("no horror, thrillers or war", {("exclude", "horror"), ("exclude", "thriller"), ("exclude", "war")}),
    ("comedies only please", {("only", "comedy")}),
    ("gimme 3 horror flicks that arent slashers", {("only", "horror"), ("count", "3")}),
    ("not too scary", {("avoid", "horror")}),
    ("show me some sci-fi from the 80s or 90s", {("prefer", "sci-fi"), ("years", "1980-1999")}),
    ("something I haven't seen", {("seen", "unseen")}),
    ("I'm bored, surprise me", {("surprise", "true")}),
    ("something lighter please", {("mood", "lighter")}),
    ("and not so violent", {("mood", "lighter")}),
    ("show me more like what I've been watching lately", {("like_recent", "true")}),
    ("start over", {("reset", "true")}),
    ("make it 5", {("count", "5")}),
    ("top 10", {("count", "10")}),
])
def test_movie_turns_read_as_their_slots(text: str, expected: set):
    assert _slots(text) == expected


def test_a_topic_talked_about_is_no_slot_but_a_bare_one_is_asked_for():
    assert _slots("musicals make me cringe") == set()
    assert _slots("my sister watches horror all the time") == set()
    assert _slots("comedies?") == {("only", "comedy")}


def test_anchors_by_place_and_by_title():
    assert _slots("more like the third one", position=lambda rest: 2 if "third" in rest else None) == {
        ("like_position", "2")}
    found = _slots("something like Toy Story", titles=lambda rest: [("i1", 0, 9)] if "toy story" in rest else [])
    assert found == {("like", "toy story (1995)")}


def test_grocery_topics_at_every_level_of_the_tree():
    assert _slots("hold the beef", GROCERY) == {("exclude", "beef")}
    assert _slots("no soda, more fresh broccoli", GROCERY) == {("exclude", "soft drinks"),
                                                               ("prefer", "broccoli whole&crowns")}
    assert _slots("only frozen pizza and milk", GROCERY) == {("only", "frozen pizza"),
                                                             ("only", "fluid milk products")}
    assert _slots("clear the filters", GROCERY) == {("reset", "true")}  # not the coffee filters
    assert _slots("I need a couple of things", GROCERY) == {("count", "2")}  # 'need' names nothing


def test_a_sigh_about_a_topic_is_unsure():
    context = SlotContext(lexicon=MOVIES)
    slots = read_slots(regular("ugh, horror again?"), context)
    assert slots.unsure_topics == ["t:horror"] and not slots.only and not slots.avoid


@pytest.mark.parametrize(("text", "years"), [
    ("from the 90s", (1990, 1999, 0)), ("the eighties", (1980, 1989, 0)), ("before 1970", (None, 1969, 0)),
    ("after 2000", (2001, None, 0)), ("since 1995", (1995, None, 0)), ("between 1980 and 1990", (1980, 1990, 0)),
    ("from 1995", (1995, 1995, 0)), ("something newer", (None, None, 1)), ("classics please", (None, None, -1)),
    ("3 picks", (None, None, 0)),
])
def test_years_and_recency(text: str, years: tuple):
    assert read_years(regular(text)) == years


def test_slots_make_a_refinement_with_a_mood_on_the_genres_the_catalog_has():
    slots = TurnSlots(exclude=["t:horror"], like_position=1, mood="lighter", count=3)
    refinement = slots.refinement(MOVIES, ["a", "b", "c"])
    assert refinement.exclude_topics == {"t:horror"} and refinement.like_items == ["b"] and refinement.count == 3
    assert refinement.topic_boosts["t:comedy"] == 1.0 and refinement.topic_boosts["t:war"] == -1.0
    assert refinement.topic_boosts["t:horror"] == -1.0  # damped by the mood as well as excluded
    assert TurnSlots(mood="lighter").refinement(GROCERY, []).topic_boosts == {}  # no genres to move
