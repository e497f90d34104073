"""What a judge returns for one role: the LLM's and the stand-in's score on each of the same cases."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

Tick = Callable[[], None]


@dataclass
class RoleMeasure:
    llm: list[float] = field(default_factory=list)
    standin: list[float] = field(default_factory=list)
    failed_checks: int = 0
    note: str | None = None

    def add(self, llm: float, standin: float) -> None:
        self.llm.append(float(llm))
        self.standin.append(float(standin))


def names_label(text: str, label: str) -> bool:
    """Does ``text`` name ``label`` (whole words, any case)?"""
    return re.search(rf"(?<![a-z0-9]){re.escape(label.lower())}(?![a-z0-9])", text.lower()) is not None


def share_named(text: str, labels: list[str]) -> float:
    """Fraction of ``labels`` the text names (0 when there are none to name)."""
    return sum(names_label(text, label) for label in labels) / len(labels) if labels else 0.0
