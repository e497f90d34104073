"""The recommendation turn with fakes behind our interfaces: ids from the candidates, evidence
from the user's own history, streaming, the degraded path, records and "why?", feedback,
cold start, new items, refinements and diversity."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.explain.records import UnknownRecordError
from agent.explain.why import UnknownRecommendedItemError
from agent.pipeline.refinement import Refinement
from agent.service import ShiftRecService
from agent.service_models import DoneEvent, ExplanationEvent, RankedEvent, UnknownItemError
from memory.models import Item
from tests.agent_support import SchemaLLM, build_service


def _event_ids(service: ShiftRecService, user: str) -> set[str]:
    return {event["event_id"] for event in service.export_user(user).events}


def _liked_items(service: ShiftRecService, user: str) -> set[str]:
    return {e["item"] for e in service.export_user(user).events if e["weight"] > 0}


def test_items_come_from_candidates_and_evidence_from_the_users_history(tmp_path: Path):
    llm = SchemaLLM()
    service = build_service(tmp_path, llm)
    seen = service.memory.seen_items("ana")
    record = service.recommend("ana")
    assert len(record.items) == 5 and [entry.rank for entry in record.items] == [1, 2, 3, 4, 5]
    assert not {entry.item_id for entry in record.items} & seen
    own_events, liked = _event_ids(service, "ana"), _liked_items(service, "ana")
    for entry in record.items:
        explanation = entry.explanation
        assert explanation is not None and explanation.source == "llm" and not explanation.degraded
        assert explanation.evidence and {ref.event_id for ref in explanation.evidence} <= own_events
        assert {ref.item_id for ref in explanation.evidence} <= liked
        assert len(explanation.reason) <= 160 and explanation.prompt == "explain/v6"
        assert len(explanation.evidence) == 1  # the LLM picked one past event
        shared = explanation.reason.removeprefix(f"Because you liked {explanation.evidence[0].title}: both are ")
        assert shared != explanation.reason, "the sentence names the cited movie and what the two share"
        assert set(shared.rstrip(".").split(" and ")) <= set(entry.categories)
        assert entry.sources  # every item says which sources proposed it
    assert record.prompts["explain"] == "explain/v6" and record.model_id == "schema-fake"
    assert not record.degraded and record.memory_version == service.memory.memory_version("ana")
    assert service.audit.snapshot()["invalid_reaching_user"] == 0


def test_with_explanation_words_the_llm_also_says_what_the_movies_share(tmp_path: Path):
    llm = SchemaLLM()
    record = build_service(tmp_path, llm, explanation_words=True).recommend("ana", count=3)
    assert {name for name, _ in llm.calls} == {"ExplanationLink"}
    for entry in record.items:
        explanation = entry.explanation
        assert explanation.prompt == "explain/v7" and explanation.source == "llm"
        cited = " and ".join(ref.title for ref in explanation.evidence)
        assert explanation.reason == f"Because you liked {cited}: fits what you chose lately."


def test_the_stream_gives_the_list_then_each_explanation_then_the_record(tmp_path: Path):
    service = build_service(tmp_path, SchemaLLM())
    events = list(service.recommend_stream("ana", count=4))
    assert isinstance(events[0], RankedEvent) and isinstance(events[-1], DoneEvent)
    assert all(entry.explanation is None for entry in events[0].record.items)
    explained = [event for event in events if isinstance(event, ExplanationEvent)]
    assert sorted(e.item.item_id for e in explained) == sorted(i.item_id for i in events[0].record.items)
    assert [i.item_id for i in events[-1].record.items] == [i.item_id for i in events[0].record.items]


def test_invented_evidence_is_repaired_before_anyone_sees_it(tmp_path: Path):
    service = build_service(tmp_path, SchemaLLM(invent_first=True))
    record = service.recommend("ana", count=3)
    audit = service.audit.snapshot()
    assert audit["outputs"] == 3 and audit["repaired"] == 3 and audit["invented_evidence"] >= 3
    assert audit["invalid_reaching_user"] == 0
    own_events = _event_ids(service, "ana")
    assert all({ref.event_id for ref in entry.explanation.evidence} <= own_events for entry in record.items)


def test_llm_down_gives_template_explanations_flagged_degraded(tmp_path: Path):
    service = build_service(tmp_path, SchemaLLM(fail=True))
    record = service.recommend("ana")
    assert len(record.items) == 5 and record.degraded
    assert any("LLM failed: LLMUnavailableError" in reason for reason in record.degraded_reasons)
    assert not any("127.0.0.1" in reason or "down" in reason for reason in record.degraded_reasons)
    own_events = _event_ids(service, "ana")
    for entry in record.items:
        assert entry.explanation.source == "template" and entry.explanation.degraded
        assert entry.explanation.reason.startswith("Because you liked ")
        assert {ref.event_id for ref in entry.explanation.evidence} <= own_events


def test_why_is_answered_from_the_record_only(tmp_path: Path):
    service = build_service(tmp_path, SchemaLLM())
    record = service.recommend("ana", count=3)
    second = record.items[1]
    answer = service.why("ana", record.id, second.item_id)
    assert answer.evidence == second.explanation.evidence and answer.reason == second.explanation.reason
    assert answer.title in answer.text and all(ref.title in answer.text for ref in answer.evidence)
    assert not answer.phrased_by_llm
    with pytest.raises(UnknownRecordError):
        service.why("bob", record.id, second.item_id)  # another user's record is not found
    with pytest.raises(UnknownRecommendedItemError, match="not in recommendation"):
        service.why("ana", record.id, "dr7")


def test_why_phrased_by_the_llm_keeps_the_stored_evidence(tmp_path: Path):
    llm = SchemaLLM()
    service = build_service(tmp_path, llm)
    record = service.recommend("ana", count=2)
    answer = service.why("ana", record.id, record.items[0].item_id, phrase=True)
    assert answer.phrased_by_llm and answer.evidence == record.items[0].explanation.evidence
    assert "Evidence: " + "; ".join(ref.text for ref in answer.evidence) in answer.text
    assert llm.calls[-1][0] == "WhyText"


def test_disliking_an_item_removes_it_from_the_next_list(tmp_path: Path):
    service = build_service(tmp_path, None)
    before = service.recommend("ana")
    top = before.items[0].item_id
    result = service.feedback("ana", top, positive=False)
    assert result.memory_version != before.memory_version
    after = service.recommend("ana", include_seen=True)
    assert top not in [entry.item_id for entry in after.items]
    with pytest.raises(UnknownItemError, match="not in the catalog"):
        service.feedback("ana", "no-such-item", positive=True)


def test_liking_items_moves_the_list_towards_them(tmp_path: Path):
    service = build_service(tmp_path, None)
    for index in range(10, 16):
        service.feedback("dee", f"sf{index}", positive=True)
    record = service.recommend("dee")
    scifi = sum("Sci-Fi" in entry.categories for entry in record.items)
    assert scifi >= 3, [entry.title for entry in record.items]


def test_a_brand_new_user_gets_popular_items_with_honest_reasons(tmp_path: Path):
    service = build_service(tmp_path, SchemaLLM())
    record = service.recommend("newcomer")
    assert record.cold_start and len(record.items) == 5 and not record.degraded
    assert all(set(entry.sources) == {"popularity"} for entry in record.items)
    assert all(entry.explanation.reason.startswith("Popular") for entry in record.items)
    assert all(not entry.explanation.evidence for entry in record.items)


def test_a_stated_preference_seeds_short_term_interests(tmp_path: Path):
    service = build_service(tmp_path, None)
    seeded = service.state_preference("newcomer", "robot uprising future and time travel paradox")
    assert seeded and all("Sci-Fi" in item.categories for item in seeded)
    record = service.recommend("newcomer")
    assert not record.cold_start
    assert sum("Sci-Fi" in entry.categories for entry in record.items) >= 3


def test_a_new_item_without_interactions_is_found_through_its_text(tmp_path: Path):
    service = build_service(tmp_path, None)
    service.memory.add_items([Item(id="sf-new", title="Galaxy robot uprising future", categories=["Sci-Fi"])])
    candidates = service._candidates.generate(service.memory.snapshot("bob"))
    assert any("sf-new" in scores for source, scores in candidates.per_source.items() if source.startswith("memory"))
    assert "sf-new" not in service.behaviour.item_ids  # no behaviour source knows it


def test_refinements_exclude_and_boost_topics(tmp_path: Path):
    service = build_service(tmp_path, None, max_topic_share=None)
    topics = {node.label: node_id for node_id, node in service.memory.catalog.topics().items() if node.parent is None}
    no_scifi = Refinement(exclude_topics={topics["Sci-Fi"]})
    record = service.recommend("ana", refinement=no_scifi)
    assert record.items and all("Sci-Fi" not in entry.categories for entry in record.items)
    drama = Refinement(topic_boosts={topics["Drama"]: 1.0})
    boosted = service.recommend("ana", refinement=drama)
    assert sum("Drama" in entry.categories for entry in boosted.items) >= 3


def test_the_per_topic_cap_spreads_the_list(tmp_path: Path):
    capped = build_service(tmp_path / "a", None, max_topic_share=0.5, mmr_lambda=1.0).recommend("bob", count=4)
    firsts = [entry.categories[0] for entry in capped.items]
    assert max(firsts.count(topic) for topic in set(firsts)) <= 2
    assert capped.intra_list_diversity > 0


def test_the_llm_preference_is_fused_with_its_configured_weight(tmp_path: Path):
    def prefer_label_c(messages):
        return {"A": -3.0, "B": -3.0, "C": -0.01}

    weights = {"sequential": 1.0, "itemknn": 1.0, "memory_short": 0.3, "popularity": 0.1, "llm": 50.0}
    service = build_service(tmp_path, SchemaLLM(logprobs=prefer_label_c), source_weights=weights, mmr_lambda=1.0,
                            max_topic_share=None)
    pool_before = build_service(tmp_path / "b", None, source_weights={**weights, "llm": 0.0}, mmr_lambda=1.0,
                                max_topic_share=None).recommend("ana", count=5)
    record = service.recommend("ana", count=5)
    assert record.prompts["rank"] == "rank/v2" and "llm" in record.items[0].sources
    assert record.items[0].item_id == pool_before.items[2].item_id  # the LLM's "C" moved to the top
    down = build_service(tmp_path / "c", SchemaLLM(fail=True), source_weights=weights).recommend("ana")
    assert len(down.items) == 5 and any("LLM ranking unavailable" in r for r in down.degraded_reasons)


def test_deleting_a_user_removes_their_records(tmp_path: Path):
    service = build_service(tmp_path, None)
    record = service.recommend("ana")
    report = service.delete_user("ana")
    assert report.records_removed == 1 and report.events_removed == 20
    with pytest.raises(UnknownRecordError):
        service.why("ana", record.id, record.items[0].item_id)


def test_a_full_llm_queue_sheds_to_flagged_templates(tmp_path: Path):
    llm = SchemaLLM()
    service = build_service(tmp_path, llm, max_llm_queue=3)
    record = service.recommend("ana", count=5)
    assert record.degraded and any("shed under load" in reason for reason in record.degraded_reasons)
    assert all(entry.explanation.source == "template" for entry in record.items)
    assert not [call for call in llm.calls if call[0] == "EvidencePick"] and service.llm_queue == 0
    assert service.recommend("ana", count=3).items[0].explanation.source == "llm"  # 3 fit the queue


def test_ingested_events_reach_memory_and_the_behaviour_models(tmp_path: Path):
    from tests.memory_support import event

    service = build_service(tmp_path, None)
    before = service.behaviour.scores(["sf1"])["popularity"].copy()
    report = service.ingest_events([event("eve", "sf1", 1), event("eve", "sf2", 2)])
    again = service.ingest_events([event("eve", "sf1", 1)])
    assert report.applied == 2 and again.applied == 0
    after = service.behaviour.scores(["sf1"])["popularity"]
    position = service.behaviour.item_ids.index("sf2")
    assert after[position] > before[position]
    assert after[service.behaviour.item_ids.index("sf1")] > before[service.behaviour.item_ids.index("sf1")]
    assert service.health() == {"llm": None, "llm_model": None, "chroma": True, "sequential_model": True,
                                "behaviour_version": None,  # built from a fixed model, not a trained version
                                "roles": {"earned": [], "card": "no LLM configured", "failed_checks": {}},
                                "events_followed": 0}  # no log follower: this one is not a serving process


def test_explanations_share_one_prompt_prefix_and_cite_only_their_own_events(tmp_path: Path):
    llm = SchemaLLM(pick=1)
    service = build_service(tmp_path, llm)
    record = service.recommend("ana", count=4)
    prompts = [messages[1].content for name, messages in llm.calls if name == "EvidencePick"]
    assert len(prompts) == 4
    prefixes = {prompt.split("Recommended:")[0] for prompt in prompts}
    assert len(prefixes) == 1  # identical up to the item line: the server's prefix cache reuses it
    for entry in record.items:
        related = entry.explanation.evidence
        title_line = next(p for p in prompts if f"Recommended: {entry.title} " in p).split("Related events: ")[1]
        offered = [label.strip(" .") for label in title_line.split(",")]
        assert 1 <= len(related) <= len(offered) <= 2


def test_evidence_is_only_related_past_items(tmp_path: Path):
    from agent.explain.explainer import Pick

    service = build_service(tmp_path, None)
    entries = service.memory.catalog.entries(["dr3", "sf20"])
    drama = service._explainer.evidence_options(service.memory.snapshot("ana"), entries["dr3"])
    assert drama == []  # ana never liked anything near a courtroom drama
    scifi = service._explainer.evidence_options(service.memory.snapshot("ana"), entries["sf20"])
    assert scifi and all(ref.item_id.startswith(("sf", "cross")) for ref in scifi)
    items = service.memory.get_items(["dr3"])
    [(_, explanation)] = list(service._explainer.explain_all(service.memory.snapshot("ana"), [Pick(items["dr3"], entries["dr3"], None)]))
    assert explanation.evidence == [] and explanation.reason.startswith("Often chosen next")


def test_a_recommendation_reads_the_user_from_memory_once(tmp_path: Path):
    service = build_service(tmp_path, SchemaLLM())
    loads: list[list[str]] = []
    histories: list[str] = []
    load, user_events = service.memory._users.load, service.memory.store.user_events
    service.memory._users.load = lambda users: loads.append(sorted(users)) or load(users)
    service.memory.store.user_events = lambda user, vectors=False: histories.append(user) or user_events(user, vectors)
    record = service.recommend("ana")
    assert record.items and all(entry.explanation.evidence for entry in record.items)
    assert loads == [["ana"]], "one snapshot: version, recent, seen, disliked and interests from one load"
    assert histories == ["ana"], "the evidence is searched in the snapshot's events, not read again"
