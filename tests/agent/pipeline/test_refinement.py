"""A session's refinement: later turns win where they differ, "only" is replaced or widened, years and
recency replace each other, and what is active reads as words."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agent.pipeline.refinement import Refinement

LABELS = {"t:horror": "Horror", "t:comedy": "Comedy", "t:drama": "Drama", "t:sci-fi": "Sci-Fi"}


def test_a_later_boost_lifts_an_earlier_exclusion_and_an_exclusion_drops_a_boost():
    first = Refinement(exclude_topics={"t:horror"}, topic_boosts={"t:drama": -1.0})
    merged = first.merged_with(Refinement(topic_boosts={"t:horror": 1.0}, exclude_topics={"t:drama"}))
    assert merged.exclude_topics == {"t:drama"} and merged.topic_boosts == {"t:horror": 1.0}


def test_only_is_replaced_by_a_new_only_and_widened_by_more():
    only = Refinement(only_topics={"t:comedy"})
    assert only.merged_with(Refinement(only_topics={"t:drama"})).only_topics == {"t:drama"}
    widened = only.merged_with(Refinement(topic_boosts={"t:drama": 1.0}))
    assert widened.only_topics == {"t:comedy", "t:drama"}
    assert widened.merged_with(Refinement(exclude_topics={"t:comedy"})).only_topics == {"t:drama"}


def test_years_and_recency_replace_each_other_and_the_rest_holds():
    decade = Refinement(year_from=1990, year_to=1999, count=3, seen="unseen")
    newer = decade.merged_with(Refinement(year_preference=1))
    assert (newer.year_from, newer.year_to, newer.year_preference) == (None, None, 1)
    assert newer.count == 3 and newer.seen == "unseen"
    back = newer.merged_with(Refinement(year_from=1980, year_to=1989))
    assert (back.year_from, back.year_to, back.year_preference) == (1980, 1989, 0)


def test_like_items_and_like_recent_replace_each_other():
    liked = Refinement(like_items=["i1"])
    assert liked.merged_with(Refinement(like_recent=True)).like_items == []
    assert liked.merged_with(Refinement(like_recent=True)).merged_with(Refinement(like_items=["i2"])).like_recent is False


def test_describe_names_every_active_refinement_in_words():
    refinement = Refinement(only_topics={"t:comedy"}, exclude_topics={"t:horror"}, topic_boosts={"t:drama": -1.0},
                            year_from=1990, year_to=1999, count=3, like_items=["i1"], seen="unseen", surprise=True)
    assert refinement.describe(LABELS, {"i1": "Heat"}, "movies") == [
        "only Comedy", "no Horror", "less Drama", "from 1990 to 1999", "like Heat",
        "only movies you have not had yet", "a surprise", "3 picks"]
    assert Refinement(year_preference=-1).describe(LABELS, {}) == ["older"]
    assert Refinement(year_to=1979).describe(LABELS, {}) == ["up to 1979"]


def test_empty_and_invalid_refinements():
    assert Refinement().is_empty and not Refinement(count=2).is_empty
    with pytest.raises(ValidationError, match="year_from 2000 is after year_to 1990"):
        Refinement(year_from=2000, year_to=1990)
