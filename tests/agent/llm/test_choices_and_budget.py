"""Schemas sent to vLLM: enums where ids go, every length bounded, max_tokens derived."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel, Field

from agent.llm.choices import Choice, constrained_schema
from agent.llm.output_budget import UnboundedSchemaError, longest_output_chars, max_output_tokens
from agent.llm.outputs import RerankOutput


class Titled(BaseModel):
    title: str = Field(max_length=20)
    pick: Choice("things")  # type: ignore[valid-type]


def test_field_named_title_survives_schema_cleaning():
    schema = constrained_schema(Titled, {"things": ["a", "b"]})
    assert set(schema["properties"]) == {"title", "pick"}
    assert schema["required"] == ["title", "pick"]
    assert schema["additionalProperties"] is False
    assert "title" not in schema, "the schema keyword 'title' is dropped, the field is kept"


def test_nested_models_are_inlined_without_refs():
    schema = constrained_schema(RerankOutput, {"candidates": ["x"], "events": ["e"], "interests": ["n"]})
    assert "$defs" not in schema and "$ref" not in json.dumps(schema)


def test_longest_output_matches_a_maximal_instance():
    schema = constrained_schema(Titled, {"things": ["a", "bbbb"]})
    maximal = json.dumps({"title": "x" * 20, "pick": "bbbb"}, separators=(",", ":"))
    assert longest_output_chars(schema) == len(maximal)
    assert max_output_tokens(schema) >= len(maximal)


def test_unbounded_strings_and_lists_are_refused_with_a_fix():
    class Loose(BaseModel):
        words: list[str]

    with pytest.raises(UnboundedSchemaError, match="maxItems"):
        longest_output_chars(constrained_schema(Loose, {}))

    class LooseText(BaseModel):
        text: str

    with pytest.raises(UnboundedSchemaError, match=r"\$\.text: string without maxLength"):
        longest_output_chars(constrained_schema(LooseText, {}))


def test_choice_validation_checks_membership_when_choices_are_given():
    assert Titled.model_validate({"title": "t", "pick": "a"}, context={"choices": {"things": ["a"]}}).pick == "a"
    with pytest.raises(ValueError, match="'z' is not one of the allowed things"):
        Titled.model_validate({"title": "t", "pick": "z"}, context={"choices": {"things": ["a"]}})
    with pytest.raises(ValueError, match="no allowed values were given for choice set 'things'"):
        Titled.model_validate({"title": "t", "pick": "a"}, context={"choices": {"other": ["a"]}})


def test_objects_built_by_our_own_code_need_no_choices():
    assert Titled(title="t", pick="anything").pick == "anything"
