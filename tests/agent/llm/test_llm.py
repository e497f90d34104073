"""The LLM interface's shared behaviour, exercised through the scripted fake."""

from __future__ import annotations

import json

import pytest

from agent.llm.fake import ScriptedLLM
from agent.llm.interface import LLMOutputError, LLMUnavailableError, Message, RawCompletion
from agent.llm.outputs import RankedItem, RerankOutput

CHOICES = {"candidates": ["i1", "i2", "i3"], "events": ["e1", "e2"], "interests": ["t:sci-fi", "t:comedy"]}
MESSAGES = [Message("system", "rank"), Message("user", "please")]


def _ranked(item: str, evidence: list[str] | None = None, interest: str = "t:sci-fi") -> dict:
    return {"item_id": item, "reason": "fits", "evidence": evidence or ["e1"], "interest": interest}


def test_valid_output_is_parsed_and_recorded(scripted_llm: ScriptedLLM):
    scripted_llm.enqueue(json.dumps({"items": [_ranked("i2"), _ranked("i1", ["e2"])]}))
    result = scripted_llm.generate(MESSAGES, RerankOutput, choices=CHOICES)
    assert [item.item_id for item in result.value.items] == ["i2", "i1"]
    assert result.attempts == 1 and result.errors == []
    assert result.model_id == "scripted-fake"
    sent = scripted_llm.history[0]
    item_schema = sent.schema["properties"]["items"]["items"]
    assert item_schema["properties"]["item_id"]["enum"] == ["i1", "i2", "i3"]
    assert item_schema["properties"]["evidence"]["items"]["enum"] == ["e1", "e2"]
    assert item_schema["properties"]["interest"]["enum"] == ["t:sci-fi", "t:comedy"]
    assert sent.max_tokens > 5 * 160, "max_tokens must cover five full-length reasons"


def test_invented_id_is_retried_with_the_error_then_accepted(scripted_llm: ScriptedLLM):
    scripted_llm.enqueue(
        json.dumps({"items": [_ranked("i9")]}),
        json.dumps({"items": [_ranked("i3")]}),
    )
    result = scripted_llm.generate(MESSAGES, RerankOutput, choices=CHOICES)
    assert result.value.items[0].item_id == "i3"
    assert result.attempts == 2
    assert "'i9' is not one of the allowed candidates" in result.errors[0]
    retry_messages = scripted_llm.history[1].messages
    assert retry_messages[-2].role == "assistant" and "i9" in retry_messages[-2].content
    assert "invalid" in retry_messages[-1].content and "i9" in retry_messages[-1].content


def test_still_invalid_after_retry_raises_typed_error_with_raw_texts(scripted_llm: ScriptedLLM):
    scripted_llm.enqueue("not json", json.dumps({"items": [_ranked("i1", ["e7"])]}))
    with pytest.raises(LLMOutputError) as raised:
        scripted_llm.generate(MESSAGES, RerankOutput, choices=CHOICES)
    assert raised.value.raw_texts[0] == "not json"
    assert "e7" in str(raised.value)


def test_truncated_output_counts_as_invalid(scripted_llm: ScriptedLLM):
    scripted_llm.enqueue(
        RawCompletion(text='{"items": [', finish_reason="length"),
        RerankOutput(items=[RankedItem(item_id="i1", reason="r", evidence=["e1"], interest="t:comedy")]),
    )
    result = scripted_llm.generate(MESSAGES, RerankOutput, choices=CHOICES)
    assert result.attempts == 2
    assert "cut at max_tokens" in result.errors[0]


def test_unavailable_server_error_propagates(scripted_llm: ScriptedLLM):
    scripted_llm.enqueue(LLMUnavailableError("down"))
    with pytest.raises(LLMUnavailableError, match="down"):
        scripted_llm.generate(MESSAGES, RerankOutput, choices=CHOICES)


def test_empty_queue_is_an_explicit_error():
    with pytest.raises(LLMUnavailableError, match="enqueue"):
        ScriptedLLM().generate(MESSAGES, RerankOutput, choices=CHOICES)


def test_missing_choice_set_is_rejected_before_any_call(scripted_llm: ScriptedLLM):
    with pytest.raises(ValueError, match="'events' needs at least one allowed value"):
        scripted_llm.generate(MESSAGES, RerankOutput, choices={"candidates": ["i1"], "interests": ["t:a"]})
    assert scripted_llm.history == []


def test_prompt_filling_the_context_is_refused():
    tiny = ScriptedLLM(context_tokens=600)
    with pytest.raises(LLMOutputError, match="fills the model's context"):
        tiny.generate([Message("user", "word " * 700)], RerankOutput, choices=CHOICES)
