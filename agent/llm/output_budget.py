"""How many tokens the longest valid output of a schema can take, so it is never truncated.

vLLM's structured output with this model failed only by truncation; bounding every string
and list in the schema lets us size max_tokens from the schema itself.
"""

from __future__ import annotations

import json
from typing import Any

_SCALAR_CHARS = {"integer": 20, "number": 24, "boolean": 5, "null": 4}
_TOKEN_MARGIN = 16


class UnboundedSchemaError(ValueError):
    """The schema allows outputs of any length; bound it with maxLength / maxItems."""


def longest_output_chars(schema: dict[str, Any], path: str = "$") -> int:
    """Characters of the longest compact JSON instance of the (inlined) schema."""
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return max(longest_output_chars(option, path) for option in schema[key])
    if "enum" in schema:
        return max(len(json.dumps(value)) for value in schema["enum"])
    if "const" in schema:
        return len(json.dumps(schema["const"]))
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        inner = sum(
            len(json.dumps(name)) + 1 + longest_output_chars(sub, f"{path}.{name}") for name, sub in properties.items()
        )
        return 2 + inner + max(len(properties) - 1, 0)
    if kind == "array":
        if "maxItems" not in schema:
            raise UnboundedSchemaError(f"{path}: list without maxItems; add Field(max_length=...)")
        item = longest_output_chars(schema.get("items", {}), f"{path}[]")
        return 2 + schema["maxItems"] * (item + 1)
    if kind == "string":
        if "maxLength" not in schema:
            raise UnboundedSchemaError(f"{path}: string without maxLength; add Field(max_length=...)")
        return 2 + schema["maxLength"]
    if kind in _SCALAR_CHARS:
        return _SCALAR_CHARS[kind]
    raise UnboundedSchemaError(f"{path}: cannot bound a schema of type {kind!r}")


def max_output_tokens(schema: dict[str, Any]) -> int:
    """Upper bound on tokens: one token per character at worst, plus a small margin."""
    return longest_output_chars(schema) + _TOKEN_MARGIN
