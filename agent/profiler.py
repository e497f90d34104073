"""The interest profile: the LLM reads the memory summary and predicts the next shift.

Cached by memory version (unchanged memory means no LLM call). When the LLM is down,
slow or stays invalid, the memory's deterministic trend estimate is served instead,
flagged as degraded, so a profile is always there.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from datetime import datetime, timezone

from pydantic import BaseModel, Field

from agent.forecast.track_record import TrackRecord
from agent.forecast.views import ForecastView
from agent.llm.interface import LLM, LLMError, LLMOutputError
from agent.llm.outputs import InterestProfile, PredictedShift
from agent.llm.prompting import run_prompt
from memory.digest import MemoryDigest
from memory.service import InterestMemory

PROFILE_PROMPT = "profile"


class ProfileResult(BaseModel):
    """A profile plus how it was made; ``degraded`` means the deterministic fallback."""

    user: str
    memory_version: str
    profile: InterestProfile
    labels: dict[str, str] = Field(description="Node id -> label for every interest named.")
    baseline_shift: PredictedShift = Field(description="The memory's trend estimate, for comparison.")
    degraded: bool
    degraded_reason: str | None = None
    prompt: str | None = Field(default=None, description="name/vN of the prompt, when the LLM wrote it.")
    model_id: str | None = None
    created_at: datetime
    forecast: ForecastView | None = Field(
        default=None, description="The interest-shift forecast shown with it (None until one has been trained).")
    track_record: TrackRecord | None = Field(default=None, description="How the user's earlier forecasts did.")


class Profiler:
    def __init__(self, memory: InterestMemory, llm: LLM | None, token_budget: int = 700, cache_size: int = 1024):
        self._memory = memory
        self._llm = llm
        self._token_budget = token_budget
        self._cache: OrderedDict[tuple[str, str], ProfileResult] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def profile(self, user: str, version: str | None = None) -> ProfileResult:
        """The user's profile for the current memory version (raises UnknownUserError if no memory);
        a caller holding the user's snapshot passes its ``version`` (no second read on a cache hit)."""
        version = version or self._memory.memory_version(user)
        with self._lock:
            cached = self._cache.get((user, version))
            if cached is not None:
                self._cache.move_to_end((user, version))
                return cached
        result = self._build(user)
        with self._lock:
            self._cache[(user, result.memory_version)] = result
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return result

    def forget(self, user: str) -> None:
        """Drop the user's cached profiles (account deletion)."""
        with self._lock:
            for key in [key for key in self._cache if key[0] == user]:
                del self._cache[key]

    def cached(self, user: str) -> ProfileResult | None:
        """The profile for the current memory version if one was already built (no LLM call)."""
        version = self._memory.memory_version(user)
        with self._lock:
            return self._cache.get((user, version))

    def _build(self, user: str) -> ProfileResult:
        summary = self._memory.summary(user, self._token_budget)
        digest = summary.digest
        labels = {node: label if label != node else self._memory.catalog.label(node)
                  for node, label in _labels(digest).items()}
        baseline = baseline_profile(digest)
        now = datetime.now(timezone.utc)
        common = dict(user=user, memory_version=digest.version, labels=labels, baseline_shift=baseline.shift, created_at=now)
        if self._llm is None:
            return ProfileResult(profile=baseline, degraded=True, degraded_reason="no LLM configured", **common)
        node_ids = sorted(labels)
        try:
            result = run_prompt(
                self._llm, PROFILE_PROMPT, {"summary": summary.text, "interest_ids": node_ids},
                choices={"interests": node_ids},
            )
        except LLMError as error:
            reason = str(error)[:300] if isinstance(error, LLMOutputError) else type(error).__name__  # no server URLs
            return ProfileResult(profile=baseline, degraded=True, degraded_reason=reason, **common)
        profile, problem = result.value, None
        if copies_the_summary(profile.profile):  # the small model sometimes pastes summary lines back
            profile = profile.model_copy(update={"profile": baseline.profile})
            problem = "the LLM's text copied the memory summary; the deterministic text is shown"
        return ProfileResult(
            profile=profile,
            degraded=problem is not None,
            degraded_reason=problem,
            prompt=f"{result.prompt_name}/v{result.prompt_version}",
            model_id=result.model_id,
            **common,
        )


_SUMMARY_MARKS = re.compile(r"\[[^\]]*\]|\d{4}-\d{2}-\d{2}|\bevents?\b|\bstrength\b|\bversion\b", re.IGNORECASE)


def copies_the_summary(text: str) -> bool:
    """Node ids in brackets, dates or the summary's own words: text pasted, not written."""
    return _SUMMARY_MARKS.search(text) is not None


def baseline_profile(digest: MemoryDigest) -> InterestProfile:
    """A deterministic profile from the digest alone: the fallback and the hint."""
    long_term = [node.id for node in digest.long_term if node.strength > 0][:4]
    short_term = [node.id for node in digest.short_term if node.score > 0][:3]
    names = [node.label for node in digest.long_term if node.strength > 0][:3]
    text = f"Mostly into {_and(names)}." if names else "Too little history to tell yet."
    if digest.rising:
        text += f" Lately more {_and([n.label for n in digest.rising[:2]])}"
        text += f", less {_and([n.label for n in digest.fading[:2]])}." if digest.fading else "."
    shift = digest.shift
    anchor = shift.to_node or (long_term[0] if long_term else None) or (digest.node_ids[0] if digest.node_ids else "none")
    return InterestProfile(
        profile=text[:300],
        long_term=long_term,
        short_term=short_term,
        shift=PredictedShift(
            from_interest=shift.from_node or anchor,
            to_interest=anchor,
            confidence=shift.confidence,
            rationale=shift.rationale[:200],
        ),
    )


def _labels(digest: MemoryDigest) -> dict[str, str]:
    labels = {}
    for node in digest.long_term:
        labels[node.id] = node.label
        labels.update({child.id: child.label for child in node.descendants()})
    labels.update({node.id: node.label for node in digest.short_term})
    labels.update({node.id: node.label for node in [*digest.rising, *digest.fading]})
    for node_id in digest.node_ids:
        labels.setdefault(node_id, node_id)
    return labels


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1] if words else ""
