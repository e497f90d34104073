"""Checks on every LLM text before a person reads it; a text that fails one is replaced by the
role's stand-in, and the failure is counted per role (``/ready`` shows the counts).

What they catch was seen on the packaged model: raw node ids as a rationale ("t:action/s3"),
the same sentence three turns in a row, a confidence of 1.00 for a user with one event,
and pasted prompt labels ("e1") or instructions."""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from agent.explain.guards import NODE_ID, leaks_instructions
from memory.domain import GENERIC_WORDS, DomainWords

_EVIDENCE_LABEL = re.compile(r"\be\d{1,3}\b", re.IGNORECASE)
_SCHEMA = re.compile(r"[{}\[\]<>]|\b(?:json|schema|enum|from_interest|to_interest|long_term|short_term|"
                     r"interest_ids|rationale|node ids?|properties|null)\b", re.IGNORECASE)
_SENTENCE = re.compile(r"[^.!?]+[.!?]*")
_TITLE_WITH_YEAR = re.compile(r"[A-Z0-9][^.!?;:()\"]{0,80}?\(\d{4}\)")
_NUMBER = re.compile(r"\d+(?:\.\d+)?%?")
_WORD = re.compile(r"[a-z0-9']+")


@dataclass(frozen=True)
class TextRules:
    """What one role's text may hold: at most ``max_chars`` and ``max_sentences``; titles written as
    'Title (1995)' only from ``names`` (None: any); numbers only from ``numbers``."""

    max_chars: int
    max_sentences: int = 3
    names: Sequence[str] | None = None
    numbers: Sequence[str] = ()


def sentences(text: str) -> list[str]:
    """The text's sentences as comparable word tuples joined back ('Hi there!' -> 'hi there')."""
    found = [" ".join(_WORD.findall(part.lower())) for part in _SENTENCE.findall(text)]
    return [sentence for sentence in found if sentence]


def text_problem(text: str, rules: TextRules, domain: DomainWords = GENERIC_WORDS,
                 earlier: Iterable[str] = ()) -> str | None:
    """Why ``text`` cannot be shown (None when it can); ``earlier``: replies already shown in this session."""
    stripped = text.strip()
    if not stripped:
        return "empty text"
    if len(stripped) > rules.max_chars:
        return f"longer than {rules.max_chars} characters"
    if NODE_ID.search(stripped):
        return "names an interest node id"
    if _EVIDENCE_LABEL.search(stripped):
        return "names a prompt label such as e1"
    if _SCHEMA.search(stripped):
        return "shows schema words or markup"
    if leaks_instructions(stripped, domain):
        return "repeats its instructions"
    own = sentences(stripped)
    if len(own) > rules.max_sentences:
        return f"more than {rules.max_sentences} sentences"
    if len(set(own)) < len(own):
        return "repeats a sentence"
    shown = {sentence for reply in earlier for sentence in sentences(reply)}
    if shown & set(own):
        return "repeats a sentence already said in this conversation"
    return _names_problem(stripped, rules)


def _names_problem(text: str, rules: TextRules) -> str | None:
    rest = text
    for name in sorted(rules.names or (), key=len, reverse=True):
        rest = rest.replace(name, " ")
    if rules.names is not None:
        invented = _TITLE_WITH_YEAR.search(rest)
        if invented:
            return f"names {invented.group(0).strip()!r}, which is not in the data behind it"
    allowed = set(rules.numbers)
    stray = [number for number in _NUMBER.findall(rest) if number not in allowed]
    return f"states the number {stray[0]}, which is not in the data behind it" if stray else None


def confidence_problem(confidence: float, events: int) -> str | None:
    """A confidence a person may read: strictly between 0 and 1, and no surer than the history allows
    (Laplace's rule: n events support at most n / (n + 2))."""
    if not 0.0 < confidence < 1.0:
        return f"a confidence of {confidence:.2f} is certainty, which no forecast has"
    most = events / (events + 2)
    if confidence > most:
        return f"a confidence of {confidence:.2f} from {events} event(s) (at most {most:.2f} is supported)"
    return None


class CheckTally:
    """Failed checks per role since start (thread-safe): what ``/ready`` reports."""

    def __init__(self) -> None:
        self._failed: Counter[str] = Counter()
        self._lock = threading.Lock()

    def failed(self, role: str) -> None:
        with self._lock:
            self._failed[role] += 1

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._failed)
