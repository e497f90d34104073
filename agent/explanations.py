"""One recommended item's explanation: grounded in the user's own events, by construction.

The evidence on offer is the user's positive past events nearest to the item in vector
space (found in their own memory, user-filtered). The LLM sees them under short labels
(``e1``..``e6``) that are enum values of the schema, so it can only cite one of them; the
labels map back to event ids. When the LLM is absent, down, slow or invalid, a template
writes the reason from the same evidence and the explanation is flagged degraded.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass

from agent.llm import LLM, LLMError
from agent.outputs import REASON_MAX_CHARS, ItemExplanation
from agent.prompting import run_prompt
from agent.records import EvidenceRef, Explanation
from memory.catalog import CatalogEntry
from memory.models import Item
from memory.service import InterestMemory

EXPLAIN_PROMPT = "explain"
NEGATIVE_ACTIONS = {"dislike", "skip"}
LIKED_RATING = 3.5  # ratings at or above this count as liking; below never serve as evidence


@dataclass
class OutputAudit:
    """How often LLM outputs needed repair before validation (none of it reaches a user)."""

    outputs: int = 0
    repaired: int = 0
    invalid_candidate: int = 0
    invented_evidence: int = 0
    duplicate_evidence: int = 0
    other_invalid: int = 0
    invalid_reaching_user: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def note(self, errors: list[str], duplicates: int = 0) -> None:
        with self._lock:
            self.outputs += 1
            self.repaired += bool(errors or duplicates)
            self.duplicate_evidence += duplicates
            for error in errors:
                if "allowed candidates" in error or "allowed labels" in error:
                    self.invalid_candidate += 1
                elif "allowed events" in error:
                    self.invented_evidence += 1
                else:
                    self.other_invalid += 1

    def note_blocked(self) -> None:
        with self._lock:
            self.invalid_reaching_user += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {key: value for key, value in asdict(self).items() if not key.startswith("_")}


class Explainer:
    def __init__(self, memory: InterestMemory, llm: LLM | None, evidence_options: int, audit: OutputAudit):
        self._memory = memory
        self._llm = llm
        self._options = evidence_options
        self._audit = audit

    def evidence_options(self, user: str, entry: CatalogEntry) -> list[EvidenceRef]:
        """The user's liked past events most similar to the item, most similar first."""
        if not self._memory.seen_items(user):
            return []
        matches = self._memory.search_history(user, entry.vector, self._options * 3)
        options = []
        for match in matches:
            liked = match.action not in NEGATIVE_ACTIONS and (match.value is None or match.value >= LIKED_RATING)
            if liked and match.item_id != entry.id:
                options.append(EvidenceRef(**match.model_dump(exclude={"similarity"})))
            if len(options) == self._options:
                break
        return options

    def explain(self, user: str, item: Item, entry: CatalogEntry, interest: str | None) -> Explanation:
        options = self.evidence_options(user, entry)
        interests = self._interest_options(entry, interest)
        if self._llm is None:
            return template_explanation(options, interests, "no LLM configured")
        if not options:
            return template_explanation(options, interests, None)  # nothing to cite: the template says so
        labels = {f"e{position}": option for position, option in enumerate(options, start=1)}
        variables = {
            "item": {"title": item.title, "categories": item.categories},
            "events": [{"label": label, "text": option.text} for label, option in labels.items()],
            "interests": [{"id": node, "label": label} for node, label in interests],
        }
        try:
            result = run_prompt(
                self._llm, EXPLAIN_PROMPT, variables,
                choices={"events": list(labels), "interests": [node for node, _ in interests]},
            )
        except LLMError as error:
            self._audit.note([str(error)])
            return template_explanation(options, interests, f"LLM failed: {str(error)[:200]}")
        value: ItemExplanation = result.value
        cited = list(dict.fromkeys(value.evidence))
        self._audit.note(result.generation.errors, duplicates=len(value.evidence) - len(cited))
        if any(label not in labels for label in cited) or value.interest not in dict(interests):
            self._audit.note_blocked()  # the schema and validation make this unreachable; checked anyway
            return template_explanation(options, interests, "LLM cited something outside the offered evidence")
        return Explanation(
            reason=value.reason.strip() or template_explanation(options, interests, None).reason,
            evidence=[labels[label] for label in cited],
            interest=value.interest,
            interest_label=dict(interests)[value.interest],
            source="llm",
            degraded=False,
            prompt=f"{result.prompt_name}/v{result.prompt_version}",
            model_id=result.model_id,
        )

    def _interest_options(self, entry: CatalogEntry, interest: str | None) -> list[tuple[str, str]]:
        """The node the candidate was found through, then the item's own topics and subtopics."""
        nodes = [interest] if interest else []
        nodes += [node for pair in entry.pairs for node in pair]
        unique = list(dict.fromkeys(node for node in nodes if node))[:4]
        return [(node, self._memory.catalog.label(node)) for node in unique]


def template_explanation(
    evidence: list[EvidenceRef], interests: list[tuple[str, str]], degraded_reason: str | None
) -> Explanation:
    """A deterministic reason from the same evidence the LLM would have seen."""
    node, label = interests[0] if interests else (None, None)
    cited = evidence[:2]
    if cited:
        titles = " and ".join(option.title for option in cited)
        reason = f"Because you liked {titles}"
        reason += f"; it fits your {label} interest." if label else "."
        if len(reason) > REASON_MAX_CHARS:
            reason = f"Because you liked {cited[0].title}"[: REASON_MAX_CHARS - 1] + "."
    else:
        reason = f"Popular with many people{f' who like {label}' if label else ''}; a start while I learn your taste."
    return Explanation(
        reason=reason[:REASON_MAX_CHARS],
        evidence=cited,
        interest=node,
        interest_label=label,
        source="template",
        degraded=degraded_reason is not None,
        degraded_reason=degraded_reason,
    )
