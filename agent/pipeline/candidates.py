"""Candidates from several labelled sources, each with its own score.

- ``memory_long`` / ``memory_short`` / ``memory_shift``: catalog items nearest to the user's
  strongest, current and rising interests (a new item with no interactions is found here,
  through its text vector);
- ``sequential`` (SASRec), ``itemknn`` (co-occurrence): what usually comes next;
- ``popularity``: the back-fill, and all a brand-new user has;
- ``repeat``: what the user buys again (their own purchase frequency, recency and re-buy cycle),
  only where seen items may return;
- ``asked``: items of the topics the person asked for ("more comedies", "only comedies", a pinned
  topic), items like the ones they named ("like the third one", "like what I watched lately"),
  and their own items where they asked to watch or buy again.

Seen items return only when asked for or where the settings' ``allow_seen`` lets them (groceries;
None counts as no here: serving resolves it from the domain); "ones I haven't seen" keeps them out
everywhere. Disliked items, items hidden by the chat (already shown) and topics the person
excluded never enter; with "only" topics, nothing outside them does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from agent.pipeline.refinement import Refinement
from agent.rankers.behaviour import BehaviourModels, top_items
from agent.settings import AgentSettings
from memory.service import InterestMemory
from memory.snapshot import UserSnapshot

MEMORY_SOURCES = {"long_term": "memory_long", "short_term": "memory_short", "rising": "memory_shift"}
VECTORS_PER_KIND = 3


@dataclass
class CandidateSet:
    """Every candidate's raw score per source, and the interest node a memory source found it by."""

    user: str
    history: list[str]
    per_source: dict[str, dict[str, float]] = field(default_factory=dict)
    interest_of: dict[str, str] = field(default_factory=dict)
    excluded: set[str] = field(default_factory=set)

    @property
    def cold(self) -> bool:
        return not self.history

    @property
    def item_ids(self) -> list[str]:
        return sorted({item for scores in self.per_source.values() for item in scores})

    def keep(self, allowed: set[str]) -> None:
        """Drop every candidate outside ``allowed``."""
        for source, scores in self.per_source.items():
            self.per_source[source] = {item: score for item, score in scores.items() if item in allowed}

    def sources_of(self, item_id: str) -> dict[str, float]:
        return {source: scores[item_id] for source, scores in self.per_source.items() if item_id in scores}


class CandidateGenerator:
    def __init__(self, memory: InterestMemory, behaviour: BehaviourModels, settings: AgentSettings):
        self._memory = memory
        self._behaviour = behaviour
        self._settings = settings

    def generate(
        self, user: UserSnapshot, refinement: Refinement | None = None, include_seen: bool = False,
        hide: set[str] | frozenset[str] = frozenset(),
    ) -> CandidateSet:
        """Every source's candidates for the user as the snapshot shows them (no read of the user here)."""
        history = user.recent_items
        seen_wish = refinement.seen if refinement is not None else None
        allow_seen = seen_wish != "unseen" and (include_seen or bool(self._settings.allow_seen) or seen_wish == "seen")
        excluded = user.excluded(allow_seen) | set(hide)
        result = CandidateSet(user=user.user, history=history, excluded=excluded)
        per_source = self._settings.candidates_per_source
        for source, scores in self._behaviour.scores(history).items():
            result.per_source[source] = top_items(self._behaviour.item_ids, scores, per_source, excluded)
        if allow_seen and history:
            self._repeats(result, user, per_source)
        if history:
            self._from_memory(result, user, per_source)
        if refinement is not None:
            self._asked_for(result, refinement, per_source)
            self._like(result, refinement, user, per_source)
            if seen_wish == "seen":
                self._again(result, user)
            if refinement.exclude_topics:
                self._drop_topics(result, refinement.exclude_topics)
            if refinement.only_topics:
                self._keep_topics(result, refinement.only_topics)
        return result

    def _repeats(self, result: CandidateSet, user: UserSnapshot, k: int) -> None:
        """The user's own items by how likely they are bought again, from every positive event they have."""
        timed = sorted((float(row.metadata["ts"]), str(row.metadata["item"])) for row in user.history
                       if float(row.metadata.get("weight", 1.0)) > 0)
        if not timed:  # a snapshot without the event rows: the short-term window
            timed = [(event.ts, event.item) for event in user.recent if event.weight > 0]
        now = time.time() if self._settings.event_clock == "wall" else None
        scores = self._behaviour.repeat_scores([item for _, item in timed], [ts for ts, _ in timed], now)
        chosen = top_items(self._behaviour.item_ids, scores, k, result.excluded)
        if chosen:
            result.per_source["repeat"] = chosen

    def _asked_for(self, result: CandidateSet, refinement: Refinement, k: int) -> None:
        """Topics the person asked for (more of, only, pinned) bring their own items (nearest the topic's centre)."""
        topics = self._memory.catalog.topics()
        scores: dict[str, float] = {}
        wanted = [t for t, boost in refinement.topic_boosts.items() if boost > 0]
        for topic in dict.fromkeys([*wanted, *sorted(refinement.only_topics), *sorted(refinement.pinned_topics)]):
            if topic not in topics:
                continue
            for match in self._memory.nearest_items(topics[topic].vector, k, result.excluded, within=topic):
                scores[match.item_id] = max(scores.get(match.item_id, -np.inf), match.similarity)
                result.interest_of.setdefault(match.item_id, topic)
        if scores:
            result.per_source["asked"] = scores

    def _like(self, result: CandidateSet, refinement: Refinement, user: UserSnapshot, k: int) -> None:
        """Items near the ones named ("like the third one") or near what the person did lately."""
        anchors = list(self._memory.catalog.vectors(refinement.like_items).values())
        if refinement.like_recent:
            anchors += [interest.vector for interest in user.interests.get("short_term", ())[:VECTORS_PER_KIND]]
        if not anchors:
            return
        scores = result.per_source.setdefault("asked", {})
        for matches in self._memory.nearest_items_many(anchors, k, result.excluded | set(refinement.like_items)):
            for match in matches:
                scores[match.item_id] = max(scores.get(match.item_id, -np.inf), match.similarity)

    def _again(self, result: CandidateSet, user: UserSnapshot) -> None:
        """'Something I've seen before': only the person's own liked items, the most liked first."""
        liked: dict[str, float] = {}
        for event in user.recent:
            if event.weight > 0 and event.item not in user.disliked:
                liked[event.item] = liked.get(event.item, 0.0) + event.weight
        result.per_source["asked"] = {**result.per_source.get("asked", {}), **liked}
        result.keep(set(liked))

    def _from_memory(self, result: CandidateSet, user: UserSnapshot, k: int) -> None:
        interests = [
            (source, interest)
            for kind, source in MEMORY_SOURCES.items()
            for interest in user.interests.get(kind, ())[:VECTORS_PER_KIND]
        ]
        found = self._memory.nearest_items_many([interest.vector for _, interest in interests], k, result.excluded)
        per_source: dict[str, dict[str, float]] = {}
        for (source, interest), matches in zip(interests, found, strict=True):
            scores = per_source.setdefault(source, {})
            for match in matches:
                if match.similarity > scores.get(match.item_id, -np.inf):
                    scores[match.item_id] = match.similarity
                    result.interest_of.setdefault(match.item_id, interest.node_id)
        for source, scores in per_source.items():
            if scores:
                result.per_source[source] = dict(sorted(scores.items(), key=lambda pair: -pair[1])[:k])

    def _keep_topics(self, result: CandidateSet, topics: set[str]) -> None:
        entries = self._memory.catalog.entries(result.item_ids)
        inside = {item for item, entry in entries.items() if any(node in topics for pair in entry.pairs for node in pair)}
        result.excluded |= set(entries) - inside
        result.keep(inside)

    def _drop_topics(self, result: CandidateSet, topics: set[str]) -> None:
        entries = self._memory.catalog.entries(result.item_ids)
        banned = {
            item for item, entry in entries.items() if any(node in topics for pair in entry.pairs for node in pair)
        }
        result.excluded |= banned
        for source, scores in result.per_source.items():
            result.per_source[source] = {item: score for item, score in scores.items() if item not in banned}
