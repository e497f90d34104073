"""Finding the item a message is about."""

from __future__ import annotations

import pytest

from agent.chat.mentions import mentioned_items, normalise_title, position_reference

ITEMS = [
    ("127", "Godfather, The (1972)"),
    ("187", "Godfather: Part II, The (1974)"),
    ("1", "Toy Story (1995)"),
    ("50", "Star Wars (1977)"),
    ("9", "Alien (1979)"),
    ("10", "Aliens (1986)"),
    ("11", "It (1990)"),
]


def test_normalise_moves_article_and_drops_year():
    assert normalise_title("Godfather, The (1972)") == "the godfather"
    assert normalise_title("Godfather: Part II, The (1974)") == "the godfather part ii"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I loved The Godfather", ["127"]),
        ("godfather part ii was better than the godfather", ["187", "127"]),
        ("why did you pick Toy Story?", ["1"]),
        ("Aliens, not Alien", ["10", "9"]),
        ("star wars!!", ["50"]),
        ("nothing here", []),
    ],
)
def test_titles_found_as_whole_words(text: str, expected: list[str]):
    assert mentioned_items(text, ITEMS) == expected


def test_short_titles_do_not_match_inside_ordinary_words():
    assert mentioned_items("it was fine, whatever", ITEMS) == []


@pytest.mark.parametrize(
    ("text", "index"),
    [("why the second one?", 1), ("number 3 please", 2), ("the last pick", 4), ("#1", 0), ("why?", None)],
)
def test_positions(text: str, index: int | None):
    assert position_reference(text, 5) == index


def test_position_out_of_range_is_none():
    assert position_reference("the fifth one", 3) is None
