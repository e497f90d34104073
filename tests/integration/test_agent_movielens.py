"""The whole agent for real: vLLM with the packaged model, embedded Chroma, MiniLM embeddings,
the trained intent classifier and SASRec, on MovieLens-100K users."""

from __future__ import annotations

import pytest

from agent.chat.intents import Intent
from agent.service import ShiftRecService

pytestmark = pytest.mark.integration


def test_a_movielens_user_gets_explained_unseen_items_with_their_own_evidence(movielens_service: ShiftRecService):
    record = movielens_service.recommend("7")
    assert len(record.items) == 5 and not {i.item_id for i in record.items} & movielens_service.memory.seen_items("7")
    assert movielens_service.behaviour.has_sequential
    own = {event["event_id"] for event in movielens_service.export_user("7").events}
    for entry in record.items:
        assert entry.explanation is not None and len(entry.explanation.reason) <= 160
        assert {ref.event_id for ref in entry.explanation.evidence} <= own
    # the LLM chose each cited event (a schema enum); the sentence names it and what the two share
    served = [entry.explanation for entry in record.items if entry.explanation.model_id]
    assert served, [entry.explanation.degraded_reason for entry in record.items]
    assert all(x.prompt == "explain/v6" and not x.degraded and len(x.evidence) == 1 for x in served)
    assert all(x.source == "llm" and x.reason.startswith(f"Because you liked {x.evidence[0].title}") for x in served)
    named = [(entry.explanation.reason, entry.categories) for entry in record.items
             if entry.explanation.model_id and ": both are " in entry.explanation.reason]
    assert named, [x.reason for x in served]  # related evidence mostly shares a genre with the item
    for reason, categories in named:
        assert set(reason.split(": both are ")[1].rstrip(".").split(" and ")) <= set(categories)
    assert movielens_service.audit.snapshot()["invalid_reaching_user"] == 0


def test_chat_routes_real_messages_and_answers_why_from_the_record(movielens_service: ShiftRecService):
    events = list(movielens_service.chat("it-1", "12", "Could you suggest a few films for tonight?"))
    listed = next(e for e in events if e.kind == "recommendations").record
    assert events[0].intent == Intent.RECOMMEND and events[-1].kind == "done"
    why = next(e for e in movielens_service.chat("it-1", "12", "why did you pick the second one?") if e.kind == "why")
    assert why.why.item_id == listed.items[1].item_id
    assert why.why.evidence == movielens_service.records.get("12", listed.id).items[1].explanation.evidence


def test_thumbs_down_in_chat_changes_the_next_list(movielens_service: ShiftRecService):
    first = movielens_service.recommend("20")
    top = first.items[0]
    events = list(movielens_service.chat("it-2", "20", f"I watched {top.title} and it was not for me"))
    assert any(e.kind == "feedback" for e in events)
    updated = [e for e in events if e.kind == "recommendations"][-1].record
    assert top.item_id not in {entry.item_id for entry in updated.items}
    assert updated.memory_version != first.memory_version


def test_the_llm_profile_names_only_the_users_interests(movielens_service: ShiftRecService):
    result = movielens_service.profile("33")
    digest = movielens_service.memory.digest("33")
    named = {*result.profile.long_term, *result.profile.short_term,
             result.profile.shift.from_interest, result.profile.shift.to_interest}
    assert named <= set(digest.node_ids)
    again = movielens_service.profile("33")  # unchanged memory: cached, no second LLM call
    assert again.created_at == result.created_at and again.profile == result.profile


def test_the_one_pass_llm_preference_scores_every_candidate(movielens_service: ShiftRecService):
    from agent.llm.preference import llm_preference

    record = movielens_service.recommend("9", count=8, explain=False)
    items = movielens_service.memory.get_items([entry.item_id for entry in record.items])
    scores = llm_preference(movielens_service.llm, "Likes dramas.", ["Fargo (1996)"], list(items.values()))
    assert set(scores) == set(items) and all(score <= 0.0 for score in scores.values())
    assert len(set(scores.values())) > 1  # the letters get different log-probabilities
