"""The profiler: LLM profile with enum-constrained interests, cached by memory version, degraded fallback."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.llm.fake import ScriptedLLM
from agent.llm.interface import LLMUnavailableError
from agent.llm.outputs import InterestProfile, PredictedShift
from agent.profiler import Profiler, baseline_profile
from memory.service import InterestMemory
from tests.memory_support import BagOfWordsEmbedder, comedy_then_scifi, event, memory_settings, movie_catalog


@pytest.fixture
def memory(tmp_path: Path) -> InterestMemory:
    memory = InterestMemory.open(memory_settings(tmp_path), BagOfWordsEmbedder())
    memory.add_items(movie_catalog())
    memory.ingest(comedy_then_scifi("ana"), progress=False)
    return memory


def _llm_profile(from_node: str, to_node: str) -> InterestProfile:
    return InterestProfile(
        profile="Loves comedies, now turning to space adventures.",
        long_term=[from_node],
        short_term=[to_node],
        shift=PredictedShift(from_interest=from_node, to_interest=to_node, confidence=0.7, rationale="trend"),
    )


def test_llm_profile_names_only_known_nodes_and_is_cached(memory: InterestMemory):
    digest = memory.digest("ana")
    llm = ScriptedLLM().enqueue(_llm_profile(digest.shift.from_node, digest.shift.to_node))
    profiler = Profiler(memory, llm)
    first = profiler.profile("ana")
    assert not first.degraded and first.prompt == "profile/v1" and first.model_id == "scripted-fake"
    assert first.profile.shift.to_interest == digest.shift.to_node
    sent_enum = llm.history[0].schema["properties"]["long_term"]["items"]["enum"]
    assert set(sent_enum) == set(digest.node_ids)
    assert "[t:" in llm.history[0].messages[-1].content, "the summary with node ids is what the LLM reads"
    assert profiler.profile("ana") is first and len(llm.history) == 1, "unchanged memory: no second LLM call"


def test_new_event_changes_version_and_asks_again(memory: InterestMemory):
    digest = memory.digest("ana")
    llm = ScriptedLLM().enqueue(*[_llm_profile(digest.shift.from_node, digest.shift.to_node)] * 2)
    profiler = Profiler(memory, llm)
    before = profiler.profile("ana")
    memory.record(event("ana", "sf21", 50))
    after = profiler.profile("ana")
    assert after.memory_version != before.memory_version and len(llm.history) == 2


def test_invented_interest_is_rejected_then_degrades_to_the_trend_baseline(memory: InterestMemory):
    bad = '{"profile":"x","long_term":["t:westerns"],"short_term":[],"shift":{"from_interest":"t:westerns",' \
          '"to_interest":"t:westerns","confidence":0.5,"rationale":"r"}}'
    profiler = Profiler(memory, ScriptedLLM().enqueue(bad, bad))
    result = profiler.profile("ana")
    digest = memory.digest("ana")
    assert result.degraded and "t:westerns" in result.degraded_reason
    assert result.profile.shift.to_interest == digest.shift.to_node
    assert result.profile.shift.from_interest == digest.shift.from_node


def test_llm_down_serves_a_flagged_deterministic_profile(memory: InterestMemory):
    result = Profiler(memory, ScriptedLLM().enqueue(LLMUnavailableError("refused"))).profile("ana")
    assert result.degraded and result.degraded_reason == "LLMUnavailableError"  # never the server URL
    assert result.prompt is None and result.profile == baseline_profile(memory.digest("ana"))
    assert "Sci-Fi" in result.profile.profile or "Comedy" in result.profile.profile


def test_baseline_predicts_comedy_to_scifi(memory: InterestMemory):
    profile = baseline_profile(memory.digest("ana"))
    labels = {n.id: n.label for n in memory.digest("ana").long_term}
    assert labels[profile.shift.to_interest] == "Sci-Fi"
    assert labels[profile.shift.from_interest] == "Comedy"
    assert "Lately more Sci-Fi" in profile.profile


def test_a_profile_text_pasted_from_the_summary_is_replaced_by_the_deterministic_one(memory: InterestMemory):
    digest = memory.digest("ana")
    pasted = _llm_profile(digest.shift.from_node, digest.shift.to_node).model_copy(
        update={"profile": "2024-02-09 12:00 to 12:00, 1 event: [e-12] Galaxy 3 (rated 3)"}
    )
    result = Profiler(memory, ScriptedLLM().enqueue(pasted)).profile("ana")
    assert result.degraded and "copies the memory summary" in result.degraded_reason
    assert result.profile.profile == baseline_profile(digest).profile
    assert result.profile.shift.to_interest == digest.shift.to_node  # the LLM's structured answer is kept
