"""Scoring the labelled dialogue set: slot pairs and F1 in the set's words, the state after a turn, and
"#n" anchors resolved against the list that was on screen."""

from __future__ import annotations

from agent.chat.edit_phrases import EditAsk
from agent.chat.intents import Intent
from agent.chat.slots import TurnSlots
from agent.chat.turns import Turn
from agent.pipeline.refinement import Refinement
from bench.conversation_scoring import (
    actual_state,
    anchor_for,
    expected_pairs,
    expected_state,
    f1_counts,
    predicted_pairs,
)
from memory.edits import EditState

LABELS = {"t:horror": "Horror", "t:doc": "Documentary", "t:produce": "Produce", "t:fruit": "Fruit"}
TITLES = {"m1": "Godfather, The (1972)", "m2": "Heat (1995)"}


def test_slot_pairs_and_f1_count_titles_by_normalised_form_and_topics_by_their_last_level():
    expected = expected_pairs({"exclude": ["Horror"], "count": 3, "like": ["the godfather"],
                               "prefer": ["Produce > Fruit"]})
    turn = Turn(intent=Intent.REFINE, slots=TurnSlots(exclude=["t:horror"], count=3, like_items=["m1"],
                                                      prefer=["t:fruit", "t:doc"]))
    predicted = predicted_pairs(turn, LABELS, TITLES)
    assert f1_counts(expected, predicted) == (4, 1, 0)  # documentary is the one extra
    assert f1_counts(expected, set()) == (0, 0, 4)


def test_an_edit_turn_scores_its_topics_or_items_and_a_bare_undo():
    fade = Turn(intent=Intent.EDIT, edit=EditAsk(kind="fade", target="my horror"), edit_topics=["t:horror"])
    assert predicted_pairs(fade, LABELS, TITLES) == {("fade", "horror")}
    forget = Turn(intent=Intent.EDIT, edit=EditAsk(kind="forget", target="heat"), edit_items=["m2"])
    assert f1_counts(expected_pairs({"forget": ["Heat"]}), predicted_pairs(forget, LABELS, TITLES)) == (1, 0, 0)
    undo = Turn(intent=Intent.EDIT, edit=EditAsk(kind="undo"))
    assert predicted_pairs(undo, LABELS, TITLES) == {("undo", "true")}


def test_state_after_a_turn_matches_in_the_sets_terms():
    refinement = Refinement(exclude_topics={"t:horror"}, topic_boosts={"t:doc": 1.0}, year_from=1990, year_to=1999,
                            count=3, like_items=["m1"])
    actual = actual_state(refinement, EditState.of([]), LABELS, TITLES, {})
    anchors = {"#0": "Godfather, The (1972)"}
    expected = expected_state({"exclude": ["Horror"], "prefer": ["Documentary"], "years": "1990-1999", "count": 3,
                               "like": "#0"}, anchors)
    assert actual == expected
    assert expected_state({"exclude": ["Horror"]}, anchors) != actual  # a missing slot is a different state


def test_positional_anchors_name_the_list_on_screen():
    shown = [("m1", "Godfather, The (1972)"), ("m2", "Heat (1995)")]
    assert anchor_for("#1", shown) == "Heat (1995)"
    assert anchor_for("#5", shown) is None and anchor_for("Heat", shown) is None
