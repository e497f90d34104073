"""Release years a message asks for: "from the 90s", "the 80s or 90s", "between 1980 and 1990",
"before 1970", "since 2000", "from 1995"; and recency: "newer", "classics".

Returns (year_from, year_to, recency): a range where years are named (either end may be open),
else +1 for newer, -1 for older, 0 for neither. Two-digit decades read as the 1900s from the 30s
to the 90s and as the 2000s for 00s and 10s.
"""

from __future__ import annotations

import re

_DECADE_WORDS = {"twenties": 20, "thirties": 30, "forties": 40, "fifties": 50, "sixties": 60, "seventies": 70,
                 "eighties": 80, "nineties": 90, "noughties": 0}
_DECADE = re.compile(r"(?<![\w])(?:(?P<full>1[89]\d0|20[0-2]0)'?s|'?(?P<short>[0-9]0)'?s|(?P<word>"
                     + "|".join(_DECADE_WORDS) + r"))(?![\w])")
_YEAR = r"(1[89]\d\d|20[0-3]\d)"
_BETWEEN = re.compile(rf"\bbetween\s+{_YEAR}\s+and\s+{_YEAR}\b|\b{_YEAR}\s*(?:-|–|to|until|till|through)\s*{_YEAR}\b")
_BEFORE = re.compile(rf"\b(?:before|pre-?|older than|earlier than|prior to)\s*{_YEAR}\b")
_UNTIL = re.compile(rf"\b(?:up to|until|till|no later than)\s+{_YEAR}\b")
_AFTER = re.compile(rf"\b(?:after|post-?|newer than|later than)\s*{_YEAR}\b")
_SINCE = re.compile(rf"\b(?:since|from)\s+{_YEAR}\s+(?:on|onwards?|and later|or later)\b|\bsince\s+{_YEAR}\b|"
                    rf"\b{_YEAR}\s+(?:or|and)\s+(?:later|newer|after)\b")
_EXACT = re.compile(rf"\b(?:from|in|released in|made in|of|year)\s+{_YEAR}\b(?!\s*(?:-|–|to|until|s\b))")
_NEWER = re.compile(r"\b(newer|more recent|recent ones|recent stuff|something recent|latest|modern|new releases|"
                    r"newest|contemporary|fresher|less old|not so old|not as old|from this decade)\b")
_OLDER = re.compile(r"\b(older|old ones|old school|old-school|classics?|vintage|oldies|retro|golden age|"
                    r"black and white)\b")


def read_years(text: str) -> tuple[int | None, int | None, int]:
    """(year_from, year_to, recency) of a regular message."""
    decades = [_decade(match) for match in _DECADE.finditer(text)]
    if decades:
        return min(decades), max(decades) + 9, 0
    for pattern, shape in ((_BETWEEN, "range"), (_BEFORE, "before"), (_UNTIL, "until"), (_AFTER, "after"),
                           (_SINCE, "since"), (_EXACT, "exact")):
        match = pattern.search(text)
        if match:
            years = [int(group) for group in match.groups() if group]
            return _shaped(shape, years)
    return None, None, 1 if _NEWER.search(text) else -1 if _OLDER.search(text) else 0


def _shaped(shape: str, years: list[int]) -> tuple[int | None, int | None, int]:
    if shape == "range":
        return min(years), max(years), 0
    year = years[0]
    return {"before": (None, year - 1, 0), "until": (None, year, 0), "after": (year + 1, None, 0),
            "since": (year, None, 0), "exact": (year, year, 0)}[shape]


def _decade(match: re.Match[str]) -> int:
    if match.group("full"):
        return int(match.group("full"))
    tens = int(match.group("short")) if match.group("short") else _DECADE_WORDS[match.group("word")]
    return (2000 if tens < 20 else 1900) + tens
