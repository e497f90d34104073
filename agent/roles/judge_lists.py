"""The list roles on held-out cuts: reranking (where does the user's next item land among 10?), the
evidence an explanation cites, its words, and the phrasing of "why?"; LLM against stand-in."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from agent.explain.explainer import Explainer, OutputAudit, Pick, template_explanation
from agent.explain.records import EvidenceRef
from agent.explain.why import phrase_why, why_listing, why_phrasing_problem
from agent.llm.interface import LLM, LLMError
from agent.llm.preference import llm_preference
from agent.profiler import baseline_profile
from agent.rankers.behaviour import BehaviourModels
from agent.roles.cases import HeldOutUser
from agent.roles.gate import RoleGate
from agent.roles.measure import CONCURRENT_CASES, RoleMeasure, Tick, concurrently, names_label
from agent.roles.names import Role
from memory.domain import DomainWords
from memory.service import InterestMemory
from memory.snapshot import UserSnapshot

CANDIDATES = 10
RECENT = 5


def measure_rerank(fresh: InterestMemory, live: InterestMemory, cases: list[HeldOutUser], llm: LLM,
                   domain: DomainWords, seed: int, tick: Tick) -> RoleMeasure:
    """Reciprocal rank of the held-out next item among it and 9 unseen items (seeded); the stand-in
    orders them by cosine similarity to the mean of the user's recent items."""
    rng = random.Random(seed)
    catalog = sorted(item for item, _ in live.store.all_item_titles())
    measure = RoleMeasure(note=f"{CANDIDATES} candidates: the next item and {CANDIDATES - 1} unseen ones")
    built = []
    for case in cases:
        seen = {e.item for e in [*case.before, *case.after]}
        pool = [item for item in rng.sample(catalog, min(len(catalog), CANDIDATES * 4)) if item not in seen]
        candidates = [case.after[0].item, *pool[:CANDIDATES - 1]]
        rng.shuffle(candidates)
        recent = list(dict.fromkeys(e.item for e in reversed(case.before)))[:RECENT]
        built.append((case, candidates, recent, live.get_items([*candidates, *recent])))

    def llm_scores(job) -> dict[str, float]:
        case, candidates, recent, items = job
        try:
            profile = baseline_profile(fresh.digest(case.user)).profile
            return llm_preference(llm, profile, [items[i].title for i in recent if i in items],
                                  [items[i] for i in candidates if i in items], domain)
        except (LLMError, ValueError):
            return {}

    for (case, candidates, recent, _), scores in zip(built, concurrently(llm_scores, built), strict=True):
        target = case.after[0].item
        vectors = live.item_vectors([*candidates, *recent])
        centre = np.mean([vectors[item] for item in recent if item in vectors], axis=0)
        standin = {item: float(vectors[item] @ centre) for item in candidates if item in vectors}
        measure.failed_checks += not scores
        measure.llm_errors += not scores
        measure.add(_reciprocal_rank(scores, target, len(candidates)), _reciprocal_rank(standin, target, 0))
        tick()
    return measure


def _reciprocal_rank(scores: dict[str, float], target: str, failed_size: int) -> float:
    if target not in scores:
        return 1.0 / failed_size if failed_size else 0.0
    others = [score for item, score in scores.items() if item != target]
    better = sum(score > scores[target] for score in others)
    tied = sum(score == scores[target] for score in others)
    return 1.0 / (1 + better + tied / 2)  # a tie is no win: the expected rank among the tied


def measure_explanations(fresh: InterestMemory, cases: list[HeldOutUser], llm: LLM, behaviour: BehaviourModels,
                         options: int, domain: DomainWords, tick: Tick) -> dict[Role, RoleMeasure]:
    """Each case explains the user's held-out next item from the events before the cut (cases with a
    choice of at least two past events): which event is cited, what the words say, how "why?" reads."""
    gate = RoleGate("all", llm.model_id)
    evidence, words, why = (RoleMeasure(), RoleMeasure(), RoleMeasure())
    evidence.note = "cases where at least two past events were on offer"
    with ThreadPoolExecutor(CONCURRENT_CASES) as pool:
        picker = Explainer(fresh, llm, options, OutputAudit(), pool, domain=domain, gate=gate)
        writer = Explainer(fresh, llm, options, OutputAudit(), pool, words=True, domain=domain, gate=gate)
        ready = [_ExplainCase.of(picker, fresh, case) for case in cases]
        for _ in range(sum(case is None for case in ready)):  # no choice to make: nothing to measure
            tick(), tick(), tick()
        ready = [case for case in ready if case is not None]

        def llm_work(case: _ExplainCase):
            standin = template_explanation(case.offered, picker.interest_options(case.pick), None)
            return (_llm_explanation(picker, case.snapshot, case.pick),
                    _llm_explanation(writer, case.snapshot, case.pick), standin,
                    _phrased(llm, case.pick.item.title, standin, domain))

        for case, (chosen, written, standin, phrased) in zip(ready, concurrently(llm_work, ready), strict=True):
            target, entry = case.pick.item.id, case.pick.entry
            shares = [behaviour.follows(ref.item_id, target) for ref in case.offered]
            cited = chosen.evidence[0].item_id if chosen and chosen.model_id else None
            evidence.failed_checks += cited is None
            evidence.llm_errors += cited is None
            ids = [ref.item_id for ref in case.offered]
            evidence.add(_share(shares, ids, cited), _share(shares, ids, ids[0]))
            tick()
            truly_shared = picker.shared_topics(entry, case.offered[0])
            llm_words = bool(written and written.source == "llm" and written.evidence and any(
                names_label(written.reason, label) for label in writer.shared_topics(entry, written.evidence[0])))
            errored = not (written and written.model_id)
            words.failed_checks += errored or bool(written.note)
            words.llm_errors += errored
            words.add(float(llm_words), float(any(names_label(standin.reason, label) for label in truly_shared)))
            tick()
            why.add(*_why_scores(phrased, case.pick.item.title, standin, domain, why))
            tick()
    return {Role.EVIDENCE: evidence, Role.EXPLANATION_WORDS: words, Role.WHY: why}


@dataclass(frozen=True)
class _ExplainCase:
    snapshot: UserSnapshot
    pick: Pick
    offered: list[EvidenceRef]

    @classmethod
    def of(cls, picker: Explainer, fresh: InterestMemory, case: HeldOutUser) -> _ExplainCase | None:
        """The held-out next item with the past events on offer; None when there is no choice to make."""
        snapshot = fresh.snapshot(case.user)
        target = case.after[0].item
        entry = fresh.catalog.entries([target]).get(target)
        item = fresh.get_items([target]).get(target)
        offered = picker.evidence_options(snapshot, entry) if entry and item else []
        return cls(snapshot, Pick(item, entry, None), offered) if len(offered) >= 2 else None


def _llm_explanation(explainer: Explainer, snapshot, pick: Pick):
    found = list(explainer.explain_all(snapshot, [pick]))
    return found[0][1] if found else None


def _phrased(llm: LLM, title: str, standin, domain: DomainWords) -> str | None:
    try:
        return phrase_why(llm, title, standin.reason, standin.evidence, standin.interest_label, domain)[0]
    except LLMError:
        return None


def _share(shares: list[float], offered: list[str], cited: str | None) -> float:
    """The cited event's part of the item-kNN similarity all offered events carry (even split when none)."""
    if cited is None:
        return 0.0
    total = sum(shares)
    index = offered.index(cited) if cited in offered else 0
    return shares[index] / total if total > 0 else 1.0 / len(shares)


def _why_scores(text: str | None, title: str, standin, domain: DomainWords, measure: RoleMeasure
                ) -> tuple[float, float]:
    """1 for an answer that passes every check and names what it cites; the listing is the stand-in."""
    listing = why_listing(title, standin.reason, standin.evidence, standin.interest_label, {}, domain)
    standin_ok = any(ref.title in listing for ref in standin.evidence)
    if text is None:
        measure.failed_checks += 1
        measure.llm_errors += 1
        return 0.0, float(standin_ok)
    problem = why_phrasing_problem(text, title, standin.evidence, domain)
    measure.failed_checks += problem is not None
    cites = any(ref.title.split(" (")[0].lower() in text.lower() for ref in standin.evidence)
    return float(problem is None and cites), float(standin_ok)
