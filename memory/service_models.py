"""What `InterestMemory` answers besides digests and summaries: typed results and errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from memory.digest_models import InterestNode, MemoryDigest

InterestKind = Literal["long_term", "short_term", "rising"]
EMPTY_VERSION = "0-0000000000000000"  # the memory version of a user with no events


class UnknownUserError(KeyError):
    """The user has no events in memory."""

    def __str__(self) -> str:
        return f"user {self.args[0]!r} has no events in memory: record or ingest some first"


@dataclass(frozen=True)
class InterestVector:
    """A direction in item space to search candidates from, with the node it stands for."""

    node_id: str
    label: str
    kind: InterestKind
    weight: float
    vector: np.ndarray


class PastEvent(BaseModel):
    """One of the user's own events, with its item's title."""

    event_id: str
    item_id: str
    title: str
    action: str
    value: float | None
    timestamp: datetime


class HistoryMatch(PastEvent):
    """A past event found by meaning; similarity is cosine, higher is more similar."""

    similarity: float


class RecordResult(BaseModel):
    applied: bool
    version: str


class UserExport(BaseModel):
    """Everything stored about one user (the right of access)."""

    user: str
    exported_at: datetime
    version: str
    events: list[dict]
    interests: list[InterestNode]
    digest: MemoryDigest
    records: list[dict] = Field(default_factory=list,
                                description="Stored recommendation records and forecasts shown (their JSON).")
    edits: list[dict] = Field(default_factory=list, description="Every edit of the memory the user made, in log "
                              "order (undone ones and the undos included; a forget keeps no item).")


class DeletionReport(BaseModel):
    user: str
    events_removed: int
    state_rows_removed: int
    records_removed: int = Field(0, description="Recommendation records, forecasts shown and cached profiles.")
    sessions_removed: int = Field(0, description="Chat sessions (their refinements and turns).")
