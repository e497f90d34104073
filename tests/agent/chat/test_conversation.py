"""The chat: intents routed to handlers, refinements carried over a session, feedback that
changes the next answer, "why" from the record, history trimmed to its token budget."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.chat.conversation import SessionMismatchError
from agent.chat.intents import Intent
from agent.forecast.shown import NO_FORECAST
from agent.llm.fake import ScriptedLLM
from agent.llm.outputs import InterestProfile, PredictedShift
from memory.tokens import count_tokens
from tests.agent_support import SchemaLLM, build_service
from tests.forecast_support import NODE_ID, ForecastingService


def _turn(service, message: str, session: str = "s1", user: str = "ana"):
    return list(service.chat(session, user, message))


def _kinds(events) -> list[str]:
    return [event.kind for event in events]


def test_recommend_streams_text_list_explanations_and_done(tmp_path: Path):
    service = build_service(tmp_path, SchemaLLM())
    events = _turn(service, "recommend me something")
    kinds = _kinds(events)
    assert kinds[:2] == ["text", "recommendations"] and kinds[-1] == "done"
    assert kinds.count("explanation") == 5
    listed = {entry.item_id for entry in events[1].record.items}
    assert {event.item_id for event in events if event.kind == "explanation"} == listed


def test_why_the_second_one_answers_from_the_last_record(tmp_path: Path):
    service = build_service(tmp_path, SchemaLLM())
    listed = next(e for e in _turn(service, "recommend me something") if e.kind == "recommendations").record
    answer = next(e for e in _turn(service, "why the second one?") if e.kind == "why")
    assert answer.why.item_id == listed.items[1].item_id and answer.why.record_id == listed.id
    by_title = next(e for e in _turn(service, f"why {listed.items[3].title}?") if e.kind == "why")
    assert by_title.why.item_id == listed.items[3].item_id


def test_feedback_in_chat_is_stored_and_changes_the_list(tmp_path: Path):
    service = build_service(tmp_path, None)
    first = next(e for e in _turn(service, "recommend me something") if e.kind == "recommendations").record
    top = first.items[0]
    events = _turn(service, f"{top.title} is not for me")
    assert "feedback" in _kinds(events)
    assert top.item_id in service.memory.disliked_items("ana")
    updated = [e for e in events if e.kind == "recommendations"][-1].record
    assert top.item_id not in [entry.item_id for entry in updated.items]


def test_a_refinement_holds_for_the_rest_of_the_session(tmp_path: Path):
    service = build_service(tmp_path, None, max_topic_share=None)
    _turn(service, "no sci-fi please")
    record = next(e for e in _turn(service, "recommend more") if e.kind == "recommendations").record
    assert record.refinement is not None and record.refinement.exclude_topics
    assert all("Sci-Fi" not in entry.categories for entry in record.items)


def test_a_new_user_stating_tastes_gets_matching_items(tmp_path: Path):
    service = build_service(tmp_path, None)
    events = _turn(service, "I like robot uprising and time travel paradox films", user="newbie")
    assert events[0].kind == "text" and events[0].text.startswith("Noted")
    record = next(e for e in events if e.kind == "recommendations").record
    assert sum("Sci-Fi" in entry.categories for entry in record.items) >= 3


def test_profile_and_other_messages(tmp_path: Path):
    service = build_service(tmp_path, None)
    profile = next(e for e in _turn(service, "what is my taste?") if e.kind == "text" or e.kind == "profile")
    assert profile.kind == "profile" and profile.intent == Intent.PROFILE
    assert profile.text.endswith(NO_FORECAST) and "confidence" not in profile.text  # no forecast trained
    unknown = _turn(service, "what is my taste?", session="s2", user="stranger")
    assert "don't know your taste" in unknown[0].text
    other = _turn(service, "hello there")
    assert other[0].text.startswith("I can recommend")


def test_the_profile_reply_and_the_list_intro_read_the_forecast(tmp_path: Path):
    service = build_service(tmp_path, None, service_class=ForecastingService)
    forecast = service.forecast("ana")
    profile = next(e for e in _turn(service, "what is my taste?") if e.kind == "profile")
    assert f"{forecast.text} No earlier forecast has reached its horizon yet." in profile.text
    assert profile.profile["forecast"]["text"] == forecast.text
    intro = _turn(service, "recommend me something")[0]
    assert intro.kind == "text" and f"{forecast.text} Here are picks for you:" in intro.text
    texts = [e.text for e in _turn(service, "what is my taste?") + [intro, profile] if e.text]
    assert not [text for text in texts if NODE_ID.search(text)]


def test_node_ids_in_the_llms_profile_never_reach_the_chat_and_the_failed_checks_are_counted(tmp_path: Path):
    leaky = InterestProfile(profile="Into t:comedy, lately t:sci-fi.", long_term=["t:comedy"], short_term=["t:sci-fi"],
                            shift=PredictedShift(from_interest="t:comedy", to_interest="t:sci-fi", confidence=0.9,
                                                 rationale="t:sci-fi rises"))
    service = build_service(tmp_path, ScriptedLLM().enqueue(leaky), service_class=ForecastingService)
    profile = next(e for e in _turn(service, "what is my taste?") if e.kind == "profile")
    # the text and the shift failed their checks: the memory's sentence and trend are served, flagged
    assert profile.text.startswith("Mostly into Sci-Fi and Comedy.") and "0.9" not in profile.text
    assert profile.made_by == "computed from your history" and profile.profile["degraded"]
    assert service.roles.checks.counts() == {"profile_text": 1, "shift": 1}
    intro = _turn(service, "recommend me something")[0]  # the list's intro reads the cached profile
    assert intro.text.startswith("Mostly into Sci-Fi and Comedy.") and not NODE_ID.search(intro.text)


def test_history_is_trimmed_to_its_token_budget(tmp_path: Path):
    service = build_service(tmp_path, None, chat_history_tokens=120)
    for _ in range(6):
        _turn(service, "hello there, how are you doing today?")
    history = service.conversations.history("s1", "ana")
    assert sum(count_tokens(str(m.content)) + 4 for m in history) <= 120
    assert history and history[0].type == "human"


def test_sessions_are_bound_to_their_user_and_messages_are_checked(tmp_path: Path):
    service = build_service(tmp_path, None)
    _turn(service, "hello there")
    with pytest.raises(SessionMismatchError):
        _turn(service, "hello there", user="bob")
    with pytest.raises(ValueError, match="empty"):
        _turn(service, "   ")
    with pytest.raises(ValueError, match="under 2000"):
        _turn(service, "x" * 2001)
