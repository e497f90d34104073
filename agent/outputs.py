"""Pydantic models the LLM must produce. Every id is a Choice: an enum fixed per request."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from agent.choices import Choice

REASON_MAX_CHARS = 160


class RankedItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_id: Choice("candidates", "Id of one candidate item.")  # type: ignore[valid-type]
    reason: str = Field(max_length=REASON_MAX_CHARS, description="Why this item fits the person, in one sentence.")
    evidence: list[Choice("events", "Id of one of the person's own events.")] = Field(  # type: ignore[valid-type]
        max_length=3, description="Events from the person's history that support the reason."
    )
    interest: Choice("interests", "Id of the interest node this item serves.")  # type: ignore[valid-type]


class RerankOutput(BaseModel):
    """The candidates in the order the LLM prefers, each with a grounded reason."""

    model_config = ConfigDict(extra="forbid")

    items: list[RankedItem] = Field(min_length=1, max_length=10)
