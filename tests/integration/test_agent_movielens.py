"""The whole agent for real: vLLM with the packaged model, embedded Chroma, MiniLM embeddings,
the trained intent classifier and SASRec, on MovieLens-100K users."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.behaviour import BehaviourModels
from agent.intents import Intent, IntentClassifier, IntentRouter
from agent.sequential import SequentialConfig
from agent.service import ShiftRecService
from memory.movielens import load_movielens
from memory.service import InterestMemory
from serving.settings import load_settings

pytestmark = pytest.mark.integration
USERS = [str(u) for u in range(1, 61)]  # the first 60 users: ~6,000 ratings


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, vllm_llm) -> ShiftRecService:
    folder: Path = tmp_path_factory.mktemp("agent-ml100k")
    settings = load_settings(data_dir=folder, cache_dir=folder / "cache")
    memory = InterestMemory.open(settings)
    data = load_movielens("ml-100k")
    memory.add_items(list(data.items))
    memory.ingest(data.events(USERS), progress=False)
    behaviour = BehaviourModels.from_log(
        memory.event_log(), folder / "sasrec.pt", config=SequentialConfig(max_len=30, hidden=32, epochs=3)
    )
    router = IntentRouter(IntentClassifier.cached(memory.embedder.embed, settings.cache_dir))
    built = ShiftRecService(settings, memory, vllm_llm, behaviour, router)
    yield built
    built.close()
    memory.close()


def test_a_movielens_user_gets_explained_unseen_items_with_their_own_evidence(service: ShiftRecService):
    record = service.recommend("7")
    assert len(record.items) == 5 and not {i.item_id for i in record.items} & service.memory.seen_items("7")
    assert service.behaviour.has_sequential
    own = {event["event_id"] for event in service.export_user("7").events}
    for entry in record.items:
        assert entry.explanation is not None and len(entry.explanation.reason) <= 160
        assert {ref.event_id for ref in entry.explanation.evidence} <= own
    written_by_llm = [entry for entry in record.items if entry.explanation.source == "llm"]
    assert written_by_llm, [entry.explanation.degraded_reason for entry in record.items]
    assert all(entry.explanation.evidence for entry in written_by_llm)
    assert service.audit.snapshot()["invalid_reaching_user"] == 0


def test_chat_routes_real_messages_and_answers_why_from_the_record(service: ShiftRecService):
    events = list(service.chat("it-1", "12", "Could you suggest a few films for tonight?"))
    listed = next(e for e in events if e.kind == "recommendations").record
    assert events[0].intent == Intent.RECOMMEND and events[-1].kind == "done"
    why = next(e for e in service.chat("it-1", "12", "why did you pick the second one?") if e.kind == "why")
    assert why.why.item_id == listed.items[1].item_id
    assert why.why.evidence == service.records.get("12", listed.id).items[1].explanation.evidence


def test_thumbs_down_in_chat_changes_the_next_list(service: ShiftRecService):
    first = service.recommend("20")
    top = first.items[0]
    events = list(service.chat("it-2", "20", f"I watched {top.title} and it was not for me"))
    assert any(e.kind == "feedback" for e in events)
    updated = [e for e in events if e.kind == "recommendations"][-1].record
    assert top.item_id not in {entry.item_id for entry in updated.items}
    assert updated.memory_version != first.memory_version


def test_the_llm_profile_names_only_the_users_interests(service: ShiftRecService):
    result = service.profile("33")
    digest = service.memory.digest("33")
    named = {*result.profile.long_term, *result.profile.short_term,
             result.profile.shift.from_interest, result.profile.shift.to_interest}
    assert named <= set(digest.node_ids)
    assert service.profile("33") is result  # unchanged memory: cached, no second LLM call
