"""From labelled candidates to a short list: fuse the sources, apply the person's
refinements, then balance relevance with coverage (MMR plus a per-topic cap)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
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
LIKE_WEIGHT = 1.0  # "like the third one": a candidate as similar as the anchor itself gains one spread
SURPRISE_DAMP = 0.5  # "surprise me": the person's two strongest topics lose half a spread
SURPRISE_LAMBDA = 0.6


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
    anchors: Mapping[str, np.ndarray] | None = None,
    usual: Sequence[str] = (),
) -> list[RankedCandidate]:
    """The ``size`` best candidates by weighted z-score fusion, refinements applied: ``anchors`` are the
    vectors of the items a "like ..." names, ``usual`` the person's strongest topics ("surprise me")."""
    fused = dict(fuse(candidates.per_source, weights))
    adjustment = dict.fromkeys(fused, 0.0)
    if refinement is not None and not refinement.is_empty and fused:
        spread = max(fused.values()) - min(fused.values()) or 1.0
        _apply_refinement(adjustment, refinement, entries, years, spread)
        _like_and_surprise(adjustment, refinement, entries, anchors or {}, usual, spread)
    ranked = sorted(fused, key=lambda item: (-(fused[item] + adjustment[item]), item))
    ordered = _first_of_each_title(ranked, entries, size)
    for topic in sorted(refinement.pinned_topics if refinement is not None else ()):  # a pin keeps one in the pool
        if not any(topic in _nodes(entries.get(item)) for item in ordered):
            ordered += [item for item in ranked if topic in _nodes(entries.get(item))][:1]
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
    settings: AgentSettings, k: int, refinement: Refinement | None = None,
) -> list[RankedCandidate]:
    """k items by MMR over item vectors, at most ``max_topic_share`` of them (rounded up) from one topic (no cap
    where the person asked for only some topics), never two with the same title (one product under several
    ids: the best-scored one stays), each pinned topic holding a place where the pool has one of its items;
    "surprise me" weighs variety more."""
    pool = distinct_titles(pool, entries)
    group_of = {item: entry.pairs[0][0] for item, entry in entries.items() if entry.pairs}
    share = None if refinement is not None and refinement.only_topics else settings.max_topic_share
    surprise = refinement is not None and refinement.surprise
    chosen = mmr(
        [(c.item_id, c.score) for c in pool], vectors, k, lambda_=SURPRISE_LAMBDA if surprise else settings.mmr_lambda,
        group_of=group_of, max_per_group=None if share is None else math.ceil(share * k),
    )
    if len(chosen) < min(k, len(pool)):  # the cap left too few: fill by relevance
        chosen += [c.item_id for c in pool if c.item_id not in chosen][: k - len(chosen)]
    if refinement is not None and refinement.pinned_topics:
        chosen = _with_pinned(chosen, pool, entries, refinement.pinned_topics)
    by_id = {c.item_id: c for c in pool}
    return [by_id[item] for item in chosen]


def _with_pinned(chosen: list[str], pool: list[RankedCandidate], entries: Mapping[str, CatalogEntry],
                 pinned: set[str]) -> list[str]:
    """Each pinned topic holds a place: its best pool item replaces the lowest pick that no pin needs."""
    chosen = list(chosen)
    for topic in sorted(pinned):
        if any(topic in _nodes(entries.get(item)) for item in chosen):
            continue
        best = next((c.item_id for c in pool if topic in _nodes(entries.get(c.item_id)) and c.item_id not in chosen),
                    None)
        spare = [item for item in reversed(chosen) if not pinned & _nodes(entries.get(item))]
        if best is not None and spare:
            chosen[chosen.index(spare[0])] = best
    return chosen


def _nodes(entry: CatalogEntry | None) -> set[str]:
    return {node for pair in entry.pairs for node in pair} if entry else set()


def _first_of_each_title(ordered: list[str], entries: Mapping[str, CatalogEntry], size: int) -> list[str]:
    """The first ``size`` candidates whose titles differ (a catalog may sell one title under many ids: a pool
    of 20 grocery candidates once held 2 titles, and the list came out with 2 items)."""
    seen: set[str] = set()
    kept = []
    for item in ordered:
        entry = entries.get(item)
        title = " ".join(entry.title.casefold().split()) if entry else item
        if title not in seen:
            seen.add(title)
            kept.append(item)
            if len(kept) == size:
                break
    return kept


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


def within_years(refinement: Refinement | None, years: Mapping[str, int]) -> set[str] | None:
    """The items a year range keeps (None: no range asked, or no item here has a year to judge by)."""
    if refinement is None or not refinement.has_years or not years:
        return None
    low, high = refinement.year_from or -math.inf, refinement.year_to or math.inf
    return {item for item, year in years.items() if low <= year <= high}


def _like_and_surprise(adjustment: dict[str, float], refinement: Refinement, entries: Mapping[str, CatalogEntry],
                       anchors: Mapping[str, np.ndarray], usual: Sequence[str], spread: float) -> None:
    if anchors:
        matrix = np.stack([vector / (np.linalg.norm(vector) or 1.0) for vector in anchors.values()])
        for item in adjustment:
            entry = entries.get(item)
            if entry is not None:
                vector = entry.vector / (np.linalg.norm(entry.vector) or 1.0)
                adjustment[item] += spread * LIKE_WEIGHT * float(np.max(matrix @ vector))
    if refinement.surprise and usual:
        for item in adjustment:
            if set(usual) & _nodes(entries.get(item)):
                adjustment[item] -= spread * SURPRISE_DAMP


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
