"""What a person asked to change about the next list, ready to apply: filters, boosts, years,
how many, seen or not, "like this one", a surprise.

A session keeps one refinement and each turn's slots are merged into it (``merged_with``), so a
refinement holds until it is changed or reset; the chat's reply names what is active
(``describe``). The API builds the same object from its request fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Seen = Literal["unseen", "seen"]


class Refinement(BaseModel):
    """The session's standing changes to a recommendation (all optional; empty changes nothing)."""

    model_config = ConfigDict(extra="forbid")

    exclude_topics: set[str] = Field(default_factory=set, description="Node ids never to show.")
    only_topics: set[str] = Field(default_factory=set, description="Node ids to show only (any of them).")
    topic_boosts: dict[str, float] = Field(default_factory=dict, description="Node id -> added score (+ more, - less).")
    year_preference: int = Field(default=0, ge=-1, le=1, description="+1 newer, -1 older, 0 none.")
    year_from: int | None = Field(default=None, ge=1000, le=3000, description="Earliest release year shown.")
    year_to: int | None = Field(default=None, ge=1000, le=3000, description="Latest release year shown.")
    count: int | None = Field(default=None, ge=1, le=20, description="How many items a list shows.")
    seen: Seen | None = Field(default=None, description="unseen: only items the person has not had; seen: only ones "
                              "they have (watch or buy again).")
    like_items: list[str] = Field(default_factory=list, max_length=5, description="Items the list should be like.")
    like_recent: bool = Field(default=False, description="Like what the person did lately.")
    surprise: bool = Field(default=False, description="Further from the usual: more varied, less of the top topics.")
    pinned_topics: set[str] = Field(default_factory=set, description="Standing: node ids every list holds some of "
                                    "(the person pinned them; set from the memory, not by a turn).")

    @model_validator(mode="after")
    def _years_in_order(self) -> Refinement:
        if self.year_from is not None and self.year_to is not None and self.year_from > self.year_to:
            raise ValueError(f"year_from {self.year_from} is after year_to {self.year_to}")
        return self

    @property
    def is_empty(self) -> bool:
        return self == Refinement()

    @property
    def has_years(self) -> bool:
        return self.year_from is not None or self.year_to is not None

    def merged_with(self, newer: Refinement) -> Refinement:
        """This session's refinement with a later turn's on top: the later one wins where they differ."""
        boosts = dict(self.topic_boosts)
        for topic, boost in newer.topic_boosts.items():
            boosts[topic] = boosts.get(topic, 0.0) + boost
        lifted = {topic for topic, boost in newer.topic_boosts.items() if boost > 0} | newer.only_topics
        excluded = (self.exclude_topics - lifted) | newer.exclude_topics
        if newer.only_topics:  # "only comedies" replaces an earlier "only ..."
            only = set(newer.only_topics)
        else:  # "also some dramas" widens a standing "only"
            only = (self.only_topics | {t for t, b in newer.topic_boosts.items() if b > 0 and self.only_topics})
        only -= newer.exclude_topics
        for topic in newer.exclude_topics | newer.only_topics:
            boosts.pop(topic, None)
        years_changed = newer.has_years or newer.year_preference != 0
        return Refinement(
            exclude_topics=excluded,
            only_topics=only,
            topic_boosts={topic: boost for topic, boost in boosts.items() if boost},
            year_preference=newer.year_preference if years_changed else self.year_preference,
            year_from=newer.year_from if years_changed else self.year_from,
            year_to=newer.year_to if years_changed else self.year_to,
            count=newer.count or self.count,
            seen=newer.seen or self.seen,
            like_items=newer.like_items or ([] if newer.like_recent else self.like_items),
            like_recent=newer.like_recent or (self.like_recent and not newer.like_items),
            surprise=newer.surprise or self.surprise,
        )

    def describe(self, labels: Mapping[str, str], titles: Mapping[str, str], plural: str = "items") -> list[str]:
        """What is active, in words ("no Horror", "from 1990 to 1999", "3 picks"), for the chat's reply."""
        name = lambda node: labels.get(node, node)  # noqa: E731
        parts = [f"only {_and(sorted(map(name, self.only_topics)))}"] if self.only_topics else []
        parts += [f"no {name(node)}" for node in sorted(self.exclude_topics, key=name)]
        parts += [f"more {name(t)}" for t, b in sorted(self.topic_boosts.items(), key=lambda p: name(p[0])) if b > 0]
        parts += [f"less {name(t)}" for t, b in sorted(self.topic_boosts.items(), key=lambda p: name(p[0])) if b < 0]
        if self.has_years:
            parts.append(_years(self.year_from, self.year_to))
        elif self.year_preference:
            parts.append("newer" if self.year_preference > 0 else "older")
        if self.like_items:
            parts.append("like " + _and([titles.get(item, item) for item in self.like_items]))
        if self.like_recent:
            parts.append("like what you had lately")
        if self.seen:
            parts.append(f"only {plural} you have not had yet" if self.seen == "unseen" else f"only {plural} you had")
        if self.surprise:
            parts.append("a surprise")
        if self.count:
            parts.append(f"{self.count} {'pick' if self.count == 1 else 'picks'}")
        return parts


def _years(start: int | None, end: int | None) -> str:
    if start is not None and end is not None:
        return f"from {start}" if start == end else f"from {start} to {end}"
    return f"from {start} on" if start is not None else f"up to {end}"


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1] if words else ""
