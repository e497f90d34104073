"""What a judge returns for one role: the LLM's and the stand-in's score on each of the same cases."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

Tick = Callable[[], None]
In = TypeVar("In")
Out = TypeVar("Out")
CONCURRENT_CASES = 4  # the engine batches concurrent requests: ~4x the throughput of one at a time


def concurrently(work: Callable[[In], Out], cases: Iterable[In]) -> Iterator[Out]:
    """``work`` on every case, a few at once, results in the cases' order (progress is ticked by the caller)."""
    with ThreadPoolExecutor(CONCURRENT_CASES, thread_name_prefix="calibrate") as pool:
        yield from pool.map(work, list(cases))


@dataclass
class RoleMeasure:
    llm: list[float] = field(default_factory=list)
    standin: list[float] = field(default_factory=list)
    failed_checks: int = 0  # outputs the product would not show: a failed check, or no valid answer at all
    llm_errors: int = 0  # of those, requests that timed out or stayed invalid
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
