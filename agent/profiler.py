"""The interest profile: the memory's deterministic sentence and trend, or the LLM's where it earned them.

Two roles: the text (``profile_text``) and the predicted shift (``shift``). Neither earned: no LLM
call at all. Cached by memory version (unchanged memory means no LLM call). When the LLM is down,
slow, invalid or fails a check, the deterministic part is served instead, flagged, so a profile is
always there.
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
from agent.llm.prompting import PromptResult, run_prompt
from agent.roles.checks import TextRules, confidence_problem, text_problem
from agent.roles.gate import RoleGate
from agent.roles.names import COMPUTED, Role
from memory.digest import MemoryDigest
from memory.domain import GENERIC_WORDS, DomainWords
from memory.service import InterestMemory
from memory.state_rows import user_key

PROFILE_CACHE_KIND = "profile_cache"  # the shared cache's rows among the user's documents

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
    made_by: str = Field(default=COMPUTED, description="How the text was made: 'computed from your history' or "
                         "'written by <model>'.")
    shift_made_by: str = Field(default=COMPUTED, description="The same for the predicted shift.")
    created_at: datetime
    forecast: ForecastView | None = Field(
        default=None, description="The interest-shift forecast shown with it (None until one has been trained).")
    track_record: TrackRecord | None = Field(default=None, description="How the user's earlier forecasts did.")
    edits: list[str] = Field(default_factory=list, description="What the person changed in their memory, in words "
                             "(a faded phase, a pin, items that were not theirs, a forgotten item).")


class ProfileDraft(BaseModel):
    """What both the profile and its calibration start from: the summary and the deterministic profile."""

    user: str
    summary: str
    digest: MemoryDigest
    labels: dict[str, str]
    baseline: InterestProfile


PROFILE_TEXT_RULES = TextRules(max_chars=300, max_sentences=3)


def profile_text_problem(text: str, domain: DomainWords = GENERIC_WORDS) -> str | None:
    """Why the LLM's profile text cannot be shown (None: it can)."""
    if copies_the_summary(text):  # the small model sometimes pastes summary lines back
        return "copies the memory summary"
    return text_problem(text, PROFILE_TEXT_RULES, domain)


def shift_problem(shift: PredictedShift, digest: MemoryDigest, domain: DomainWords = GENERIC_WORDS) -> str | None:
    """Why the LLM's shift cannot be shown: a meaningless confidence or a rationale that fails a check."""
    return (confidence_problem(shift.confidence, digest.events)
            or text_problem(shift.rationale, TextRules(max_chars=200, max_sentences=2), domain))


class Profiler:
    def __init__(self, memory: InterestMemory, llm: LLM | None, token_budget: int = 700, cache_size: int = 1024,
                 gate: RoleGate | None = None, domain: DomainWords = GENERIC_WORDS):
        self._memory = memory
        self._llm = llm
        self._gate = gate or RoleGate("all", llm.model_id if llm else None)
        self._domain = domain
        self._token_budget = token_budget
        self._cache: OrderedDict[tuple[str, str], ProfileResult] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def profile(self, user: str, version: str | None = None) -> ProfileResult:
        """The user's profile for the current memory version (raises UnknownUserError if no memory);
        a caller holding the user's snapshot passes its ``version`` (no second read on a cache hit)."""
        version = version or self._memory.memory_version(user)
        cached = self._lookup(user, version)
        if cached is not None:
            return cached
        result = self._build(user)
        self._keep(result)
        self._memory.store.put_document(user, _cache_row(user), PROFILE_CACHE_KIND, result.model_dump_json())
        return result

    def _lookup(self, user: str, version: str) -> ProfileResult | None:
        """This process's copy, else the one any worker stored for this memory version (the shared cache)."""
        with self._lock:
            cached = self._cache.get((user, version))
            if cached is not None:
                self._cache.move_to_end((user, version))
                return cached
        row = self._memory.store.user_document(user, _cache_row(user))
        if row is None or not row.document:
            return None
        stored = ProfileResult.model_validate_json(row.document)
        if stored.memory_version != version:
            return None
        self._keep(stored)
        return stored

    def _keep(self, result: ProfileResult) -> None:
        with self._lock:
            self._cache[(result.user, result.memory_version)] = result
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def forget(self, user: str) -> None:
        """Drop the user's cached profiles (account deletion)."""
        with self._lock:
            for key in [key for key in self._cache if key[0] == user]:
                del self._cache[key]

    def cached(self, user: str) -> ProfileResult | None:
        """The profile for the current memory version if one was already built here or by another worker
        (no LLM call)."""
        return self._lookup(user, self._memory.memory_version(user))

    def draft(self, user: str) -> ProfileDraft:
        summary = self._memory.summary(user, self._token_budget)
        digest = summary.digest
        labels = {node: label if label != node else self._memory.catalog.label(node)
                  for node, label in _labels(digest).items()}
        return ProfileDraft(user=user, summary=summary.text, digest=digest, labels=labels,
                            baseline=baseline_profile(digest))

    def ask_llm(self, draft: ProfileDraft, llm: LLM | None = None) -> PromptResult:
        """The LLM's profile from the summary (raises LLMError); its interests are the summary's nodes."""
        node_ids = sorted(draft.labels)
        return run_prompt(llm or self._llm, PROFILE_PROMPT, {"summary": draft.summary, "interest_ids": node_ids},
                          choices={"interests": node_ids})

    def _build(self, user: str) -> ProfileResult:
        draft = self.draft(user)
        baseline = draft.baseline
        now = datetime.now(timezone.utc)
        common = dict(user=user, memory_version=draft.digest.version, labels=draft.labels,
                      baseline_shift=baseline.shift, created_at=now)
        if self._llm is None:
            return ProfileResult(profile=baseline, degraded=True, degraded_reason="no LLM configured", **common)
        text_role, shift_role = self._gate.earned(Role.PROFILE_TEXT), self._gate.earned(Role.SHIFT)
        if not (text_role or shift_role):  # the stand-ins serve by design: nothing degraded, no LLM call
            return ProfileResult(profile=baseline, degraded=False, **common)
        try:
            result = self.ask_llm(draft)
        except LLMError as error:
            reason = str(error)[:300] if isinstance(error, LLMOutputError) else type(error).__name__  # no server URLs
            return ProfileResult(profile=baseline, degraded=True, degraded_reason=reason, **common)
        return self._checked(result, draft, text_role, shift_role, common)

    def _checked(self, result: PromptResult, draft: ProfileDraft, text_role: bool, shift_role: bool,
                 common: dict) -> ProfileResult:
        """The LLM's parts that earned their role and pass their checks; the stand-in's for the rest."""
        written: InterestProfile = result.value
        problems = []
        profile = draft.baseline
        text_by = shift_by = COMPUTED
        if text_role:
            problem = profile_text_problem(written.profile, self._domain)
            if problem is None:
                profile = profile.model_copy(update={"profile": written.profile, "long_term": written.long_term,
                                                     "short_term": written.short_term})
                text_by = self._gate.made_by(Role.PROFILE_TEXT, True)
            else:
                self._gate.failed_check(Role.PROFILE_TEXT)
                problems.append(f"the LLM's text {problem}; the deterministic text is shown")
        if shift_role:
            problem = shift_problem(written.shift, draft.digest, self._domain)
            if problem is None:
                profile = profile.model_copy(update={"shift": written.shift})
                shift_by = self._gate.made_by(Role.SHIFT, True)
            else:
                self._gate.failed_check(Role.SHIFT)
                problems.append(f"the LLM's shift: {problem}; the memory's trend is shown")
        by_llm = text_by != COMPUTED or shift_by != COMPUTED
        return ProfileResult(
            profile=profile, degraded=bool(problems), degraded_reason="; ".join(problems)[:300] or None,
            prompt=f"{result.prompt_name}/v{result.prompt_version}" if by_llm else None,
            model_id=result.model_id if by_llm else None, made_by=text_by, shift_made_by=shift_by, **common,
        )


_SUMMARY_MARKS = re.compile(r"\[[^\]]*\]|\d{4}-\d{2}-\d{2}|\bevents?\b|\bstrength\b|\bversion\b", re.IGNORECASE)


def _cache_row(user: str) -> str:
    return f"profile-cache:{user_key(user)}"


def copies_the_summary(text: str) -> bool:
    """Node ids in brackets, dates or the summary's own words: text pasted, not written."""
    return _SUMMARY_MARKS.search(text) is not None


def baseline_profile(digest: MemoryDigest) -> InterestProfile:
    """A deterministic profile from the digest alone: the fallback and the hint."""
    faded = set(digest.faded_by_user)
    long_term = [node.id for node in digest.long_term if node.strength > 0][:4]
    short_term = [node.id for node in digest.short_term if node.score > 0][:3]
    names = [node.label for node in digest.long_term if node.strength > 0 and node.label not in faded][:3]
    text = f"Mostly into {_and(names)}." if names else "Too little history to tell yet."
    if digest.rising:
        text += f" Lately more {_and([n.label for n in digest.rising[:2]])}"
        text += f", less {_and([n.label for n in digest.fading[:2]])}." if digest.fading else "."
    elif digest.fading:
        text += f" Lately less {_and([n.label for n in digest.fading[:2]])}."
    if faded:  # what the person told us outranks what the numbers say
        text += f" You said you're over {_and(digest.faded_by_user)}: less {_and(digest.faded_by_user)} from now on."
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
