"""From labelled candidates to a short list: fuse the sources, apply the person's
refinements, then balance relevance with coverage (MMR plus a per-topic cap)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from agent.pipeline.candidates import CandidateSet
from agent.pipeline.diversity import mmr
from agent.pipeline.fusion import fuse, zscores
from agent.pipeline.refinement import Refinement
from agent.settings import AgentSettings
from memory.catalog import CatalogEntry

# Refinements are measured in the spread of the fused scores: a boost of 1 ("more comedies") lifts an
# item from the bottom of the candidates to the top; "newer" moves one standard deviation of release
# year by a quarter of the spread.
YEAR_WEIGHT = 0.25


@dataclass(frozen=True)
class RankedCandidate:
    item_id: str
    score: float
    sources: dict[str, float]
    interest: str | None
    adjustment: float = 0.0  # what refinements added to the fused score


def fused_pool(
    candidates: CandidateSet,
    weights: Mapping[str, float],
    refinement: Refinement | None,
    entries: Mapping[str, CatalogEntry],
    years: Mapping[str, int],
    size: int,
) -> list[RankedCandidate]:
    """The ``size`` best candidates by weighted z-score fusion, refinements applied."""
    fused = dict(fuse(candidates.per_source, weights))
    adjustment = dict.fromkeys(fused, 0.0)
    if refinement is not None and not refinement.is_empty and fused:
        spread = max(fused.values()) - min(fused.values()) or 1.0
        _apply_refinement(adjustment, refinement, entries, years, spread)
    ordered = sorted(fused, key=lambda item: (-(fused[item] + adjustment[item]), item))[:size]
    return [
        RankedCandidate(
            item, fused[item] + adjustment[item], candidates.sources_of(item), candidates.interest_of.get(item),
            adjustment[item],
        )
        for item in ordered
    ]


def with_source(
    pool: list[RankedCandidate], source: str, scores: Mapping[str, float], weights: Mapping[str, float]
) -> list[RankedCandidate]:
    """The pool re-fused after adding one more source (the LLM's preference); refinements kept."""
    per_source: dict[str, dict[str, float]] = {}
    for candidate in pool:
        for name, value in {**candidate.sources, source: scores[candidate.item_id]}.items():
            per_source.setdefault(name, {})[candidate.item_id] = value
    totals = dict(fuse(per_source, weights))
    updated = [
        replace(c, score=totals[c.item_id] + c.adjustment, sources={**c.sources, source: scores[c.item_id]})
        for c in pool
    ]
    return sorted(updated, key=lambda c: (-c.score, c.item_id))


def diversify(
    pool: list[RankedCandidate], vectors: Mapping[str, np.ndarray], entries: Mapping[str, CatalogEntry],
    settings: AgentSettings, k: int,
) -> list[RankedCandidate]:
    """k items by MMR over item vectors, at most ``max_topic_share`` of them (rounded up) from one topic,
    never two with the same title (one product under several ids: the best-scored one stays)."""
    pool = distinct_titles(pool, entries)
    group_of = {item: entry.pairs[0][0] for item, entry in entries.items() if entry.pairs}
    share = settings.max_topic_share
    chosen = mmr(
        [(c.item_id, c.score) for c in pool], vectors, k,
        lambda_=settings.mmr_lambda, group_of=group_of, max_per_group=None if share is None else math.ceil(share * k),
    )
    if len(chosen) < min(k, len(pool)):  # the cap left too few: fill by relevance
        chosen += [c.item_id for c in pool if c.item_id not in chosen][: k - len(chosen)]
    by_id = {c.item_id: c for c in pool}
    return [by_id[item] for item in chosen]


def distinct_titles(pool: list[RankedCandidate], entries: Mapping[str, CatalogEntry]) -> list[RankedCandidate]:
    """The pool without later candidates whose title (case and spacing aside) an earlier one has."""
    seen: set[str] = set()
    kept = []
    for candidate in pool:
        entry = entries.get(candidate.item_id)
        title = " ".join(entry.title.casefold().split()) if entry else candidate.item_id
        if title not in seen:
            seen.add(title)
            kept.append(candidate)
    return kept


def _apply_refinement(
    adjustment: dict[str, float], refinement: Refinement, entries: Mapping[str, CatalogEntry],
    years: Mapping[str, int], spread: float,
) -> None:
    for item in adjustment:
        entry = entries.get(item)
        topics = {node for pair in entry.pairs for node in pair} if entry else set()
        adjustment[item] += spread * sum(boost for topic, boost in refinement.topic_boosts.items() if topic in topics)
    if refinement.year_preference:
        known = {item: float(years[item]) for item in adjustment if item in years}
        for item, z in zscores(known).items():
            adjustment[item] += spread * YEAR_WEIGHT * refinement.year_preference * z
