"""One recommended item's explanation: grounded in the user's own events, by construction.

The evidence on offer is the user's positive past events nearest to the item in vector
space (found in their own memory, user-filtered). The LLM sees them under short labels
(``e1``, ``e2``, ...) that are enum values of the schema, so it can only cite one of them;
the labels map back to event ids. When the LLM is absent, down, slow or invalid, a template
writes the reason from the same evidence and the explanation is flagged degraded.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Executor, Future, as_completed
from dataclasses import asdict, dataclass

from agent.explain.guards import unfit_shared_words
from agent.explain.records import EvidenceRef, Explanation
from agent.llm.interface import LLM, LLMError
from agent.llm.outputs import REASON_MAX_CHARS, EvidencePick, ExplanationLink
from agent.llm.prompting import run_prompt
from agent.roles.checks import TextRules, text_problem
from agent.roles.gate import RoleGate
from agent.roles.names import Role
from memory.catalog import CatalogEntry
from memory.domain import GENERIC_WORDS, DomainWords
from memory.models import Item
from memory.service import InterestMemory
from memory.service_models import HistoryMatch
from memory.snapshot import UserSnapshot

log = logging.getLogger(__name__)
EXPLAIN_PROMPT = "explain"
WORDS_VERSION, PICK_VERSION = 7, 6  # explain/v7: evidence + the LLM's words; v6: evidence only
NEGATIVE_ACTIONS = {"dislike", "skip"}
LIKED_RATING = 3.5  # ratings at or above this count as liking; below never serve as evidence
RELATED_SIMILARITY = 0.5  # a past item this close (cosine), or one sharing a topic, relates to the item


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


@dataclass(frozen=True)
class Pick:
    """One recommended item to explain, with the interest node it was found through."""

    item: Item
    entry: CatalogEntry
    interest: str | None


class Explainer:
    """Explains a list: one request per item, all sharing one prompt prefix.

    Every item's prompt starts with the same labelled events and interests (the union of
    each item's own nearest liked events), so the server computes that prefix once: the
    first item's request goes alone, and the others follow as soon as it starts answering
    (its prefix is then cached). Per item, the schema's enum admits only that item's own
    related events, so every citation relates to the item it explains.
    """

    def __init__(self, memory: InterestMemory, llm: LLM | None, evidence_options: int, audit: OutputAudit,
                 executor: Executor, first_token_wait_s: float = 5.0, words: bool = False,
                 domain: DomainWords = GENERIC_WORDS, gate: RoleGate | None = None):
        self._memory = memory
        self._domain = domain
        self._words = words  # with roles opened by configuration: which prompt; with a card, the card decides
        self._gate = gate or RoleGate("all", llm.model_id if llm else None)
        self._llm = llm
        self._options = evidence_options
        self._audit = audit
        self._executor = executor
        self._first_token_wait_s = first_token_wait_s

    @property
    def _version(self) -> int:
        words = self._gate.earned(Role.EXPLANATION_WORDS) and (self._words or self._gate.mode == "earned")
        return WORDS_VERSION if words else PICK_VERSION

    def uses_llm(self) -> bool:
        """Has the LLM earned a part of explaining (choosing the evidence, or writing the words)?"""
        return self._llm is not None and (self._gate.earned(Role.EVIDENCE) or self._version == WORDS_VERSION)

    def evidence_options(self, user: UserSnapshot, entry: CatalogEntry) -> list[EvidenceRef]:
        """The user's liked past events most similar to the item and related to it, most similar first."""
        return self.evidence_options_many(user, [entry])[0]

    def evidence_options_many(self, user: UserSnapshot, entries: list[CatalogEntry]) -> list[list[EvidenceRef]]:
        """:meth:`evidence_options` per entry, from the events the snapshot holds.

        Related: the past item shares a topic with the item, or is within RELATED_SIMILARITY
        (measured: without this, 15% of citations shared no genre and sat far away)."""
        if not entries or not user.seen:
            return [[] for _ in entries]
        found = self._memory.history_matches(user, [entry.vector for entry in entries], self._options * 4)
        past = self._memory.catalog.entries(match.item_id for matches in found for match in matches)
        return [self._related(entry, matches, past) for entry, matches in zip(entries, found, strict=True)]

    def _related(self, entry: CatalogEntry, matches: list[HistoryMatch], past: dict[str, CatalogEntry]) -> list[EvidenceRef]:
        topics = {chain[0] for chain in entry.pairs}
        options = []
        for match in matches:
            liked = match.action not in NEGATIVE_ACTIONS and (match.value is None or match.value >= LIKED_RATING)
            shares_topic = match.item_id in past and bool(topics & {chain[0] for chain in past[match.item_id].pairs})
            related = match.similarity >= RELATED_SIMILARITY or shares_topic
            if liked and related and match.item_id != entry.id:
                options.append(EvidenceRef(**match.model_dump(exclude={"similarity"})))
            if len(options) == self._options:
                break
        return options

    def shared_topics(self, entry: CatalogEntry, cited: EvidenceRef, most: int = 2) -> list[str]:
        """Labels of what the item shares with the cited past item, in the item's order: per category path
        the deepest level both sit under ("Eggs" rather than "Grocery"); flat topics' clusters are not named."""
        past = self._memory.catalog.entries([cited.item_id]).get(cited.item_id)
        theirs = {node for chain in past.pairs for node in chain} if past else set()
        nodes = self._memory.catalog.topics()
        shared = []
        for topic, *below in entry.pairs:
            if topic in theirs:
                deeper = [n for n in below if n in theirs and getattr(nodes.get(n), "mode", "") == "path"]
                shared.append(deeper[-1] if deeper else topic)
        return [self._memory.catalog.label(node) for node in list(dict.fromkeys(shared))[:most]]

    def interest_options(self, pick: Pick) -> list[tuple[str, str]]:
        """The node the candidate was found through, then the item's own topic (two at most: a short prompt)."""
        nodes = [pick.interest] if pick.interest else []
        nodes += [chain[0] for chain in pick.entry.pairs]
        unique = list(dict.fromkeys(node for node in nodes if node))[:2]
        return [(node, self._memory.catalog.label(node)) for node in unique]

    def templates(
        self, user: UserSnapshot, picks: list[Pick], reason: str | None, cold: bool
    ) -> Iterator[tuple[int, Explanation]]:
        """(position, template explanation) for every pick, flagged with ``reason`` (None: the stand-in by
        design, not degraded; no LLM work)."""
        options = self.evidence_options_many(user, [pick.entry for pick in picks])
        for position, pick in enumerate(picks):
            yield position, template_explanation(options[position], self.interest_options(pick), reason, cold)

    def explain_all(self, user: UserSnapshot, picks: list[Pick]) -> Iterator[tuple[int, Explanation]]:
        """(position, explanation) for every pick, in the order they are written."""
        cold = not user.seen
        if self._llm is None:
            yield from self.templates(user, picks, "no LLM configured", cold)
            return
        options = self.evidence_options_many(user, [pick.entry for pick in picks])
        interests = [self.interest_options(pick) for pick in picks]
        labels = _shared_labels(options)
        shared = {
            "events": [{"label": label, "text": ref.prompt_text, "title": ref.title} for ref, label in labels.values()],
            **self._domain.prompt_variables(),
        }
        jobs = [(position, pick, options[position], interests[position]) for position, pick in enumerate(picks)]
        futures: dict[Future, int] = {}
        started = threading.Event()
        for index, (position, pick, own, own_interests) in enumerate(jobs):
            if index == 1:
                self._wait_for_prefix(started, next(iter(futures)))
            futures[self._executor.submit(
                self._explain_one, pick, own, own_interests, labels, shared, started.set if index == 0 else None, cold
            )] = position
        for future in as_completed(futures):
            position = futures[future]
            try:
                yield position, future.result()
            except Exception as error:  # one failed explanation never sinks the list
                log.exception("explanation failed")
                yield position, template_explanation(
                    options[position], interests[position], f"explanation failed: {type(error).__name__}", cold
                )

    def _wait_for_prefix(self, started: threading.Event, first: Future) -> None:
        deadline = time.monotonic() + self._first_token_wait_s
        while not started.wait(0.02) and not first.done() and time.monotonic() < deadline:
            pass

    def _explain_one(self, pick: Pick, own: list[EvidenceRef], interests: list[tuple[str, str]],
                     labels: dict[str, tuple[EvidenceRef, str]], shared: dict, on_first_token,
                     cold: bool = False) -> Explanation:
        if not own:
            if on_first_token is not None:
                on_first_token()  # nothing to send: let the others go
            return template_explanation(own, interests, None, cold)  # nothing to cite: the template says so
        own_labels = {labels[ref.event_id][1]: ref for ref in own}
        variables = {
            **shared,
            "item": {"title": pick.item.title, "categories": pick.item.categories},
            "related": list(own_labels),
        }
        try:
            result = run_prompt(
                self._llm, EXPLAIN_PROMPT, variables, choices={"events": list(own_labels)},
                on_first_token=on_first_token, version=self._version,
            )
        except LLMError as error:
            self._audit.note([str(error)])
            log.warning("explanation fell back to the template: %s", error)
            return template_explanation(own, interests, f"LLM failed: {type(error).__name__}")
        value: ExplanationLink | EvidencePick = result.value
        answered = [value.evidence] if isinstance(value, EvidencePick) else value.evidence
        cited = list(dict.fromkeys(answered))
        self._audit.note(result.generation.errors, duplicates=len(answered) - len(cited))
        if any(label not in own_labels for label in cited):
            self._audit.note_blocked()  # the schema and validation make this unreachable; checked anyway
            return template_explanation(own, interests, "LLM cited something outside the offered evidence")
        chosen = [own_labels[label] for label in cited]
        served = template_explanation(chosen, interests, None).model_copy(update={
            "model_id": result.model_id, "prompt": f"{result.prompt_name}/v{result.prompt_version}",
            "made_by": self._gate.made_by(Role.EVIDENCE, True),
        })
        if isinstance(value, EvidencePick):  # the LLM chose the evidence; the words come from the catalog
            shared = self.shared_topics(pick.entry, chosen[0])
            reason = linked_reason(chosen, f"both are {' and '.join(shared)}") if shared else served.reason
            return served.model_copy(update={"reason": reason, "source": "llm"})
        titles = [pick.item.title, *(ref.title for ref in chosen)]
        reason = linked_reason(chosen, value.shared)
        problem = unfit_shared_words(value.shared, titles, self._domain) or text_problem(
            reason, TextRules(max_chars=REASON_MAX_CHARS, max_sentences=2, names=titles), self._domain)
        if problem:  # the LLM served (it chose the evidence, valid by construction); its words are not shown
            self._gate.failed_check(Role.EXPLANATION_WORDS)
            return served.model_copy(update={"note": problem})
        return served.model_copy(update={"reason": reason, "source": "llm"})


def linked_reason(chosen: list[EvidenceRef], shared: str) -> str:
    """'Because you liked <cited titles>: <shared>.' The sentence names what it cites by construction."""
    words = " ".join(shared.split()).rstrip(" .;:,")
    for titles in (" and ".join(ref.title for ref in chosen[:2]), chosen[0].title):
        reason = f"{because(chosen[:2])} {titles}: {words}."
        if len(reason) <= REASON_MAX_CHARS:
            return reason
    return f"{because(chosen[:1])} {chosen[0].title}."[:REASON_MAX_CHARS]


def because(cited: list[EvidenceRef]) -> str:
    """'Because you bought' where every cited event is a purchase (groceries), else 'Because you liked'."""
    return f"Because you {'bought' if cited and all(ref.action == 'purchase' for ref in cited) else 'liked'}"


def _shared_labels(options: list[list[EvidenceRef]]) -> dict[str, tuple[EvidenceRef, str]]:
    """Event id -> (evidence, short label e1, e2, ...) over every item's options, first seen first."""
    labels: dict[str, tuple[EvidenceRef, str]] = {}
    for own in options:
        for ref in own:
            if ref.event_id not in labels:
                labels[ref.event_id] = (ref, f"e{len(labels) + 1}")
    return labels


def template_explanation(
    evidence: list[EvidenceRef], interests: list[tuple[str, str]], degraded_reason: str | None,
    cold: bool = True,
) -> Explanation:
    """A deterministic reason from the same evidence the LLM would have seen."""
    node, label = interests[0] if interests else (None, None)
    cited = evidence[:2]
    if cited:
        titles = " and ".join(option.title for option in cited)
        reason = f"{because(cited)} {titles}"
        reason += f"; it fits your {label} interest." if label else "."
        if len(reason) > REASON_MAX_CHARS:
            reason = f"{because(cited[:1])} {cited[0].title}"[: REASON_MAX_CHARS - 1] + "."
    elif cold:
        reason = f"Popular with many people{f' who like {label}' if label else ''}; a start while I learn your taste."
    else:
        reason = f"Often chosen next by people with histories like yours{f'; it adds some {label}' if label else ''}."
    return Explanation(
        reason=reason[:REASON_MAX_CHARS],
        evidence=cited,
        interest=node,
        interest_label=label,
        source="template",
        degraded=degraded_reason is not None,
        degraded_reason=degraded_reason,
    )
