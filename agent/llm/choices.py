"""Ids the LLM may name, fixed per request: one enum in the JSON schema, one check on parse.

Output models declare an id field as ``Choice("candidates")``. At request time the caller
passes ``choices={"candidates": [...]}``: the schema sent to vLLM gets ``enum`` there (so
the grammar cannot produce anything else) and validation rejects anything outside it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from copy import deepcopy
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, ValidationInfo

CHOICE_KEY = "x-choice"


def _membership_check(set_name: str):
    def check(value: str, info: ValidationInfo) -> str:
        if not info.context or "choices" not in info.context:
            return value  # built by our own code, not parsed from an LLM
        allowed = info.context["choices"].get(set_name)
        if allowed is None:
            raise ValueError(f"no allowed values were given for choice set {set_name!r}")
        if value not in allowed:
            raise ValueError(f"{value!r} is not one of the allowed {set_name}")
        return value

    return check


def Choice(set_name: str, description: str = "") -> Any:  # noqa: N802 - reads like a type
    """A string that must be one of the request's ``choices[set_name]``."""
    return Annotated[
        str,
        Field(description=description or f"One of the given {set_name}.", json_schema_extra={CHOICE_KEY: set_name}),
        AfterValidator(_membership_check(set_name)),
    ]


def constrained_schema(output_type: type[BaseModel], choices: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """The output model's JSON schema with every choice field turned into an enum, defs inlined."""
    schema = output_type.model_json_schema()
    defs = schema.pop("$defs", {})
    return _resolve(schema, defs, choices)


def _resolve(node: Any, defs: dict[str, Any], choices: Mapping[str, Sequence[str]]) -> Any:
    if isinstance(node, list):
        return [_resolve(child, defs, choices) for child in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = deepcopy(defs[node["$ref"].rsplit("/", 1)[-1]])
        return _resolve(target, defs, choices)
    resolved = {
        key: _resolve_properties(value, defs, choices) if key == "properties" else _resolve(value, defs, choices)
        for key, value in node.items()
        if key not in (CHOICE_KEY, "title")
    }
    set_name = node.get(CHOICE_KEY)
    if set_name is not None:
        allowed = list(choices.get(set_name, ()))
        if not allowed:
            raise ValueError(f"choice set {set_name!r} needs at least one allowed value")
        resolved["enum"] = allowed
        resolved.pop("maxLength", None)
        resolved.pop("minLength", None)
    if resolved.get("type") == "object":
        resolved.setdefault("additionalProperties", False)
        resolved["required"] = list(resolved.get("properties", {}))
    return resolved


def _resolve_properties(properties: dict[str, Any], defs: dict[str, Any], choices: Mapping[str, Sequence[str]]):
    """Field names are data here, not schema keywords: never strip them."""
    return {name: _resolve(schema, defs, choices) for name, schema in properties.items()}
