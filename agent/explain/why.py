""""Why was X recommended?" answered from the stored record, never from new evidence.

The deterministic answer lists the stored reason and evidence (fast: one Chroma get). On
request the LLM may phrase the same facts; it sees only the record's evidence, and when
it fails the deterministic text stands, flagged.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from pydantic import BaseModel

from agent.explain.records import EvidenceRef, RecommendationRecord
from agent.llm.interface import LLM, LLMError
from agent.llm.prompting import run_prompt
from agent.roles.checks import TextRules, text_problem
from agent.roles.names import COMPUTED, written_by
from memory.domain import GENERIC_WORDS, DomainWords

WHY_PROMPT = "why"


class UnknownRecommendedItemError(KeyError):
    def __str__(self) -> str:
        record, item = self.args
        return f"item {item!r} is not in recommendation {record!r}: ask about one of the items it listed"


class WhyAnswer(BaseModel):
    record_id: str
    item_id: str
    title: str
    rank: int
    reason: str
    evidence: list[EvidenceRef]
    interest_label: str | None
    sources: dict[str, float]
    text: str
    phrased_by_llm: bool
    made_by: str = COMPUTED
    degraded: bool
    degraded_reason: str | None = None


def answer_why(record: RecommendationRecord, item_id: str, llm: LLM | None = None, phrase: bool = False,
               domain: DomainWords = GENERIC_WORDS, on_failed_check: Callable[[], None] = lambda: None) -> WhyAnswer:
    """The stored reason and evidence of ``item_id``, in ``domain``'s words; phrased by the LLM on request
    (pass ``llm`` only where it earned the role); a phrasing that fails a check is counted and not shown."""
    entry = record.item(item_id)
    if entry is None:
        raise UnknownRecommendedItemError(record.id, item_id)
    explanation = entry.explanation
    reason = explanation.reason if explanation else "It scored highest among the candidates."
    evidence = explanation.evidence if explanation else []
    label = explanation.interest_label if explanation else None
    text = why_listing(entry.title, reason, evidence, label, entry.sources, domain)
    answer = WhyAnswer(
        record_id=record.id, item_id=item_id, title=entry.title, rank=entry.rank, reason=reason, evidence=evidence,
        interest_label=label, sources=entry.sources, text=text, phrased_by_llm=False,
        degraded=bool(explanation and explanation.degraded),
    )
    if not phrase or llm is None or not evidence:
        return answer
    try:
        written, model_id = phrase_why(llm, entry.title, reason, evidence, label, domain)
    except LLMError as error:
        return answer.model_copy(update={"degraded": True, "degraded_reason": f"LLM phrasing failed: {error}"[:300]})
    problem = why_phrasing_problem(written, entry.title, evidence, domain)
    if problem:
        on_failed_check()
        return answer.model_copy(update={"degraded": True, "degraded_reason": f"LLM phrasing {problem}"[:300]})
    phrased = f"{written.strip()}\n\nEvidence: " + "; ".join(e.text for e in evidence)
    return answer.model_copy(update={"text": phrased, "phrased_by_llm": True, "made_by": written_by(model_id)})


def phrase_why(llm: LLM, title: str, reason: str, evidence: list[EvidenceRef], label: str | None,
               domain: DomainWords = GENERIC_WORDS) -> tuple[str, str]:
    """(the LLM's answer, its model id) from the stored facts alone; raises LLMError."""
    variables = {"title": title, "reason": reason, "evidence": [e.text for e in evidence],
                 "interest": label or "-", **domain.prompt_variables()}
    result = run_prompt(llm, WHY_PROMPT, variables)
    return result.value.answer, result.model_id


def why_phrasing_problem(text: str, title: str, evidence: list[EvidenceRef], domain: DomainWords) -> str | None:
    """The phrasing may name only the item and its evidence, and state only the evidence's numbers."""
    numbers = [n for ref in evidence for n in re.findall(r"\d+(?:\.\d+)?%?", ref.text)]
    rules = TextRules(max_chars=400, max_sentences=3, names=[title, *(ref.title for ref in evidence)], numbers=numbers)
    return text_problem(text, rules, domain)


def source_names(domain: DomainWords) -> dict[str, str]:
    """Each candidate source as a person would say it, in the catalog's words."""
    return {
        "sequential": f"what people {domain.verb} next (sequence model)",
        "itemknn": f"{domain.plural} {domain.past} together",
        "memory_long": "your lasting interests",
        "memory_short": f"what you {domain.past} lately",
        "memory_shift": "where your taste is heading",
        "repeat": f"what you {domain.past} before and may want again",
        "popularity": "popularity",
        "llm": "the language model's preference",
    }


def why_listing(title: str, reason: str, evidence: list[EvidenceRef], label: str | None,
                sources: dict[str, float], domain: DomainWords) -> str:
    """The deterministic answer (the why role's stand-in): the stored reason, evidence, interest and sources."""
    lines = [f"I recommended {title}: {reason}"]
    if evidence:
        lines.append("From your history: " + "; ".join(e.text for e in evidence) + ".")
    if label:
        lines.append(f"It serves your interest in {label}.")
    names = source_names(domain)
    found_by = [names.get(source, source) for source in sources]
    if found_by:
        lines.append("Found through " + ", ".join(found_by) + ".")
    return "\n".join(lines)
