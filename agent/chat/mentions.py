"""Which item a chat message talks about: by title, or by position in the last list.

MovieLens titles read "Godfather, The (1972)"; people type "the godfather". Titles and
messages are normalised the same way (article moved to the front, year and punctuation
dropped) and matched as whole words, longest title first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from memory.domain import GENERIC_WORDS, DomainWords

_YEAR = re.compile(r"\(\d{4}\)\s*$")
_TRAILING_ARTICLE = re.compile(r"^(.*), (the|a|an|les|la|le|il|el|das|der|die)$", re.IGNORECASE)
_NON_WORD = re.compile(r"[^\w]+")
_ORDINALS = {
    "first": 0, "1st": 0, "one": 0, "top": 0, "second": 1, "2nd": 1, "two": 1, "third": 2, "3rd": 2, "three": 2,
    "fourth": 3, "4th": 3, "four": 3, "fifth": 4, "5th": 4, "five": 4, "sixth": 5, "6th": 5, "six": 5,
    "seventh": 6, "7th": 6, "seven": 6, "eighth": 7, "8th": 7, "eight": 7, "ninth": 8, "9th": 8, "nine": 8,
    "tenth": 9, "10th": 9, "ten": 9, "last": -1,
}
_PICK_NOUNS = ("one", "pick", "item", "suggestion")  # "the second one": words for a listed item in any catalog


@lru_cache(maxsize=8)
def _position(domain: DomainWords) -> re.Pattern[str]:
    """'the second <one | pick | the catalog's noun>' or 'number 2'."""
    nouns = "|".join(re.escape(noun) for noun in dict.fromkeys((*domain.nouns, *_PICK_NOUNS)))
    return re.compile(
        rf"\b(?:the\s+)?(first|1st|second|2nd|third|3rd|fourth|4th|fifth|5th|sixth|6th|seventh|7th|eighth|8th|"
        rf"ninth|9th|tenth|10th|last|top)\s+(?:{nouns})\b"
        r"|\bthe\s+(first|1st|second|2nd|third|3rd|fourth|4th|fifth|5th|sixth|6th|seventh|7th|eighth|8th|ninth|9th|"
        r"tenth|10th|last)\b(?=\s*(?:[?.!,]|$|was|is|one|pls|please))"
        r"|(?:\bnumber|\bno\.?|#)\s*(one|two|three|four|five|six|seven|eight|nine|ten|10|[1-9])\b",
        re.IGNORECASE,
    )


def normalise_title(title: str) -> str:
    """'Godfather, The (1972)' -> 'the godfather'."""
    title = _YEAR.sub("", title).strip()
    match = _TRAILING_ARTICLE.match(title)
    if match:
        title = f"{match.group(2)} {match.group(1)}"
    return " ".join(_NON_WORD.sub(" ", title.lower()).split())


def mentioned_items(text: str, items: Sequence[tuple[str, str]]) -> list[str]:
    """Ids of items (id, title) whose title appears in text, longest title first, no overlaps."""
    message = f" {normalise_title(text)} "
    found: list[str] = []
    for item_id, title in sorted(items, key=lambda pair: -len(normalise_title(pair[1]))):
        name = normalise_title(title)
        bare = name.removeprefix("the ").removeprefix("a ").removeprefix("an ")
        for candidate in {name, bare}:
            if len(candidate) >= 3 and f" {candidate} " in message:
                found.append(item_id)
                message = message.replace(f" {candidate} ", " \x00 ")
                break
    return found


def position_reference(text: str, list_length: int, domain: DomainWords = GENERIC_WORDS) -> int | None:
    """'the second one' -> 1; 'number 3' -> 2; None when the text names no position in range.

    ``domain``'s nouns count as well: 'the second movie' in a film catalog, 'the last product' in a shop."""
    match = _position(domain).search(text)
    if not match:
        return None
    word = next(group for group in match.groups() if group).lower()
    index = int(word) - 1 if word.isdigit() else _ORDINALS[word]
    if index == -1:
        index = list_length - 1
    return index if 0 <= index < list_length else None
