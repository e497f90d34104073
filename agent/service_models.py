"""What `ShiftRecService` streams and returns, and the errors it raises for bad requests."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from agent.explain.records import RecommendationRecord, RecommendedItem


class UnknownItemError(KeyError):
    def __str__(self) -> str:
        return f"item {self.args[0]!r} is not in the catalog: use an id from the catalog or a recommendation"


class RankedEvent(BaseModel):
    """The ordered list, before its explanations (those still pending have none)."""

    kind: Literal["ranked"] = "ranked"
    record: RecommendationRecord


class ExplanationEvent(BaseModel):
    kind: Literal["explanation"] = "explanation"
    record_id: str
    item: RecommendedItem


class DoneEvent(BaseModel):
    """The complete, stored record."""

    kind: Literal["done"] = "done"
    record: RecommendationRecord


RecommendationEvent = RankedEvent | ExplanationEvent | DoneEvent


class FeedbackResult(BaseModel):
    user: str
    item_id: str
    title: str
    positive: bool
    event_id: str
    memory_version: str
