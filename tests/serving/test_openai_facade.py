"""The OpenAI-compatible facade, driven by the real `openai` client and LangChain's ChatOpenAI
over HTTP; the agent runs on the small catalog with the schema-reading fake LLM."""

from __future__ import annotations

import re

import openai
import pytest
from langchain_openai import ChatOpenAI

from agent.chat.conversation import ChatEvent
from agent.chat.intents import Intent
from agent.explain.records import Explanation, RecommendationRecord
from agent.service import ShiftRecService
from serving.openai_facade import ReplyComposer
from tests.serving.test_api import ADMIN_KEY, ANA_KEY, api_url, service  # noqa: F401  (the API tests' module fixtures)

LIST_LINE = re.compile(r"^(\d+)\. (.+?): (.+)$", re.MULTILINE)


@pytest.fixture(scope="module")
def v1_url(api_url: str) -> str:  # noqa: F811
    return f"{api_url}/v1"


def ask(url: str, key: str, messages: list[dict], **options) -> openai.types.chat.ChatCompletion:
    return openai.OpenAI(base_url=url, api_key=key).chat.completions.create(model="shiftrec", messages=messages,
                                                                           **options)


def test_models_lists_the_agent(v1_url: str):
    models = openai.OpenAI(base_url=v1_url, api_key=ANA_KEY).models.list()
    assert [model.id for model in models.data] == ["shiftrec"]


def test_the_reply_is_the_chat_text_then_the_ranked_list_with_reasons(
        v1_url: str, service: ShiftRecService):  # noqa: F811
    completion = ask(v1_url, ANA_KEY, [{"role": "user", "content": "recommend something"}])
    choice = completion.choices[0]
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    record = service.records.get("ana", completion.model_extra["record_id"])
    lines = LIST_LINE.findall(choice.message.content)
    assert [(int(rank), title) for rank, title, _ in lines] == [(entry.rank, entry.title) for entry in record.items]
    assert [reason for _, _, reason in lines] == [entry.explanation.reason for entry in record.items]
    assert not choice.message.content.startswith("1.")  # the chat's own text comes first
    assert completion.usage.completion_tokens > 0 and completion.usage.prompt_tokens > 0


def test_a_streamed_reply_arrives_in_pieces_and_ends_with_usage(v1_url: str):
    stream = ask(v1_url, ANA_KEY, [{"role": "user", "content": "recommend a film"}], stream=True,
                 stream_options={"include_usage": True})
    chunks = list(stream)
    pieces = [chunk.choices[0].delta.content for chunk in chunks if chunk.choices and chunk.choices[0].delta.content]
    text = "".join(pieces)
    assert len(pieces) >= 3 and [int(rank) for rank, _, _ in LIST_LINE.findall(text)] == [1, 2, 3, 4, 5]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [chunk.choices[0].finish_reason for chunk in chunks if chunk.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0


def test_a_resent_history_stays_in_one_session_so_why_refers_to_the_last_list(v1_url: str):
    first = [{"role": "user", "content": "recommend something tonight"}]
    reply = ask(v1_url, ANA_KEY, first).choices[0].message.content
    second_title = LIST_LINE.findall(reply)[1][1]
    follow_up = first + [{"role": "assistant", "content": reply}, {"role": "user", "content": "why the second one?"}]
    answer = ask(v1_url, ANA_KEY, follow_up).choices[0].message.content
    assert f"I recommended {second_title}" in answer


def test_the_user_comes_from_the_key_or_the_admins_user_field(v1_url: str):
    as_bob = ask(v1_url, ADMIN_KEY, [{"role": "user", "content": "recommend"}], user="bob")
    assert as_bob.model_extra["session_id"].startswith("openai-")
    with pytest.raises(openai.PermissionDeniedError, match="cannot act as 'bob'"):
        ask(v1_url, ANA_KEY, [{"role": "user", "content": "recommend"}], user="bob")
    with pytest.raises(openai.UnprocessableEntityError, match="'user' field"):
        ask(v1_url, ADMIN_KEY, [{"role": "user", "content": "recommend"}])
    with pytest.raises(openai.AuthenticationError):
        ask(v1_url, "wrong-key-0123456789abcdef", [{"role": "user", "content": "recommend"}])


def test_requests_it_cannot_serve_say_what_to_send(v1_url: str):
    with pytest.raises(openai.NotFoundError, match="use 'shiftrec'"):
        openai.OpenAI(base_url=v1_url, api_key=ANA_KEY).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.UnprocessableEntityError, match="no user message"):
        ask(v1_url, ANA_KEY, [{"role": "system", "content": "be brief"}])


def test_langchain_chat_openai_talks_to_the_agent(v1_url: str):
    chat = ChatOpenAI(base_url=v1_url, api_key=ANA_KEY, model="shiftrec")
    reply = chat.invoke("recommend something to watch")
    assert [int(rank) for rank, _, _ in LIST_LINE.findall(reply.content)] == [1, 2, 3, 4, 5]
    streamed = "".join(chunk.content for chunk in chat.stream("recommend something to watch"))
    assert LIST_LINE.findall(streamed)


def _record(items: list[tuple[str, str]]) -> RecommendationRecord:
    return RecommendationRecord.model_validate({
        "id": "rec-1", "user": "ana", "created_at": "2024-01-01T00:00:00Z", "memory_version": "v", "model_id": None,
        "prompts": {}, "cold_start": False, "degraded": False, "intra_list_diversity": 0.0,
        "items": [{"rank": rank, "item_id": item, "title": title, "categories": [], "score": 0.0, "sources": {}}
                  for rank, (item, title) in enumerate(items, start=1)],
    })


def _explained(item: str, reason: str) -> ChatEvent:
    explanation = Explanation(reason=reason, evidence=[], interest=None, interest_label=None, source="llm",
                              degraded=False)
    return ChatEvent(kind="explanation", session_id="s", intent=Intent.RECOMMEND, item_id=item, explanation=explanation)


def test_list_lines_wait_for_every_line_above_them():
    composer = ReplyComposer()
    record = _record([("a", "Alpha"), ("b", "Beta"), ("c", "Gamma")])
    said = composer.add(ChatEvent(kind="text", session_id="s", intent=Intent.RECOMMEND, text="Picks:"))
    listed = composer.add(ChatEvent(kind="recommendations", session_id="s", intent=Intent.RECOMMEND, record=record))
    assert said == ["Picks:"] and listed == []
    assert composer.add(_explained("b", "second")) == []  # Alpha's reason is not there yet
    assert composer.add(_explained("a", "first")) == ["\n1. Alpha: first", "\n2. Beta: second"]
    assert composer.add(ChatEvent(kind="done", session_id="s", intent=Intent.RECOMMEND)) == ["\n3. Gamma"]
