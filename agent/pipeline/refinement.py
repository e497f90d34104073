"""Turn "less horror", "no musicals", "something lighter", "newer" into filters and boosts.

A refinement accumulates over a chat session (each turn adds to the last) and is applied
to the next recommendation: excluded topics are filtered out, boosted and damped topics
shift the fused score, and a year preference re-weights by release year.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

# Spoken words for catalog topics; a topic label also matches itself and its plural, as a whole word whatever
# noun follows it ("no war stories" finds War).
TOPIC_SYNONYMS = {
    "horror": ["scary", "slasher", "slashers"],
    "sci-fi": ["science fiction", "scifi", "sci fi", "space"],
    "comedy": ["comedies", "funny", "funnier"],
    "animation": ["animated", "cartoon", "cartoons", "anime"],
    "children's": ["kids", "children", "family"],
    "romance": ["romantic", "romcom", "romcoms", "love stories"],
    "documentary": ["documentaries", "docs"],
    "film-noir": ["noir"],
    "musical": ["musicals"],
    "thriller": ["thrillers", "suspense"],
}
LIGHT_TOPICS = ("comedy", "animation", "children's", "musical", "romance")
DARK_TOPICS = ("horror", "thriller", "war", "crime", "film-noir")
_EXCLUDE = r"(?:no|nothing|without|skip(?: the)?|avoid|not|anything but|drop|except|take out|remove)"
_DAMPEN = r"(?:less|fewer|not so much|not as much|not so many)"
_BOOST = r"(?:more|only|just|extra|some)"
_NEWER = re.compile(r"\b(?:newer|recent|more recent|new ones|latest|modern)\b", re.IGNORECASE)
_OLDER = re.compile(r"\b(?:older|classics?|old ones|vintage|from the (?:[2-6]0s|19[2-6]0s))\b", re.IGNORECASE)
_LIGHTER = re.compile(r"\b(?:lighter|light-hearted|lighthearted|happier|feel-good|fun|cheerful|funnier)\b", re.I)
_DARKER = re.compile(r"\b(?:darker|grittier|scarier|heavier|intense)\b", re.IGNORECASE)


class Refinement(BaseModel):
    """What the person asked to change, ready to apply to a candidate list."""

    model_config = ConfigDict(extra="forbid")

    exclude_topics: set[str] = Field(default_factory=set, description="Topic ids never to show.")
    topic_boosts: dict[str, float] = Field(default_factory=dict, description="Topic id -> added score.")
    year_preference: int = Field(default=0, ge=-1, le=1, description="+1 newer, -1 older, 0 none.")

    def merged_with(self, newer: Refinement) -> Refinement:
        boosts = dict(self.topic_boosts)
        for topic, boost in newer.topic_boosts.items():
            boosts[topic] = boosts.get(topic, 0.0) + boost
        excluded = (self.exclude_topics | newer.exclude_topics) - {t for t, b in newer.topic_boosts.items() if b > 0}
        return Refinement(
            exclude_topics=excluded,
            topic_boosts=boosts,
            year_preference=newer.year_preference or self.year_preference,
        )

    @property
    def is_empty(self) -> bool:
        return not self.exclude_topics and not self.topic_boosts and self.year_preference == 0


def parse_refinement(text: str, topics: Mapping[str, str], boost: float = 1.0) -> Refinement:
    """Refinement in ``text``; ``topics`` maps each topic label (e.g. 'Horror') to its node id."""
    lowered = f" {text.lower()} "
    excluded: set[str] = set()
    boosts: dict[str, float] = {}
    for label, topic_id in topics.items():
        words = _topic_words(label)
        if _near(lowered, _EXCLUDE, words):
            excluded.add(topic_id)
        elif _near(lowered, _DAMPEN, words):
            boosts[topic_id] = boosts.get(topic_id, 0.0) - boost
        elif _near(lowered, _BOOST, words):
            boosts[topic_id] = boosts.get(topic_id, 0.0) + boost
    by_label = {label.lower(): topic_id for label, topic_id in topics.items()}
    if _LIGHTER.search(text):
        _shift(boosts, by_label, LIGHT_TOPICS, DARK_TOPICS, boost)
    if _DARKER.search(text):
        _shift(boosts, by_label, DARK_TOPICS, LIGHT_TOPICS, boost)
    year = 1 if _NEWER.search(text) else -1 if _OLDER.search(text) else 0
    return Refinement(exclude_topics=excluded, topic_boosts=boosts, year_preference=year)


def _topic_words(label: str) -> list[str]:
    base = label.lower()
    return [base, f"{base}s", *TOPIC_SYNONYMS.get(base, [])]


def _near(text: str, trigger: str, words: list[str]) -> bool:
    """A trigger word followed, within three words, by one of the topic's words."""
    alternatives = "|".join(re.escape(word) for word in sorted(words, key=len, reverse=True))
    return re.search(rf"\b{trigger}\b(?:\s+\w+){{0,3}}?\s+(?:{alternatives})\b", text) is not None


def _shift(boosts: dict[str, float], by_label: Mapping[str, str], up: tuple[str, ...], down: tuple[str, ...], size: float):
    for label in up:
        if label in by_label:
            boosts[by_label[label]] = boosts.get(by_label[label], 0.0) + size
    for label in down:
        if label in by_label:
            boosts[by_label[label]] = boosts.get(by_label[label], 0.0) - size
