"""What a digest of a user's memory contains: the typed view the agent, the API and the UI read.

Every interest carries its node id and every item its event id, so that later steps
(an LLM prompt with id enums, an explanation) can cite them.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Literal

from pydantic import BaseModel, Field

DEPTH = "0: a topic; 1: its children; 2 and more: deeper levels of a category path."


class TrajectoryPoint(BaseModel):
    start: datetime = Field(description="Start of the time bucket (UTC).")
    strength: float = Field(description="Long-term strength at the bucket's end (or now, for the current one).")


class InterestNode(BaseModel):
    """A long-term interest: a topic or a subtopic of the user's tree."""

    id: str = Field(description="Stable node id, e.g. 't:sci-fi', 't:sci-fi/s2' or 't:books/fantasy/epic'.")
    label: str
    level: Literal["topic", "subtopic"] = Field(description="topic, or any node below one (see depth).")
    depth: int = Field(default=0, description=DEPTH)
    parent: str | None
    strength: float = Field(description="Decayed sum of signed event weights; negative feedback lowers it.")
    share: float = Field(description="Share of the user's positive long-term strength at this level.")
    short_share: float = Field(description="Share of the user's recent (short-term) interest at this level.")
    trend: float = Field(description="short_share - share: > 0 rising, < 0 fading.")
    first_seen: datetime
    last_seen: datetime
    events: int
    negative_events: int
    trajectory: list[TrajectoryPoint]
    children: list[InterestNode] = Field(default_factory=list)

    def descendants(self) -> list[InterestNode]:
        """Every node below this one, depth first (children, then theirs)."""
        return [node for child in self.children for node in (child, *child.descendants())]


class ShortTermInterest(BaseModel):
    id: str
    label: str
    level: Literal["topic", "subtopic"]
    depth: int = Field(default=0, description=DEPTH)
    score: float = Field(description="Recency-weighted sum of signed weights in the short-term window.")
    share: float


class TrendingNode(BaseModel):
    id: str
    label: str
    level: Literal["topic", "subtopic"]
    depth: int = Field(default=0, description=DEPTH)
    trend: float


class RecentItem(BaseModel):
    event_id: str
    item_id: str
    title: str
    action: str
    value: float | None
    weight: float
    timestamp: datetime


class SessionDigest(BaseModel):
    id: str
    start: datetime
    end: datetime
    events: int
    items: list[RecentItem] = Field(description="Latest items of the session, latest first.")


class ShiftEstimate(BaseModel):
    """Where the trends point: from a fading interest to a rising one."""

    method: Literal["trend-baseline"] = "trend-baseline"
    from_node: str | None
    from_label: str | None
    to_node: str | None
    to_label: str | None
    to_subtopic: str | None
    confidence: float = Field(ge=0, le=1)
    rationale: str
    evidence: list[str] = Field(description="Event ids of the latest events behind the rising interest.")


class MemoryDigest(BaseModel):
    user: str
    version: str
    as_of: datetime
    events: int
    first_seen: datetime
    last_seen: datetime
    long_term: list[InterestNode]
    short_term: list[ShortTermInterest]
    rising: list[TrendingNode]
    fading: list[TrendingNode]
    sessions: list[SessionDigest]
    shift: ShiftEstimate
    forecast: list[str] = Field(
        default_factory=list,
        description="Topic ids most likely to lead the user's next ~10 events, best first (memory.forecast).",
    )
    faded_by_user: list[str] = Field(default_factory=list, description="Labels of the interests the user said are a "
                                     "past phase (memory edits in force).")
    node_ids: list[str] = Field(description="Every interest node this user has (for schema enums).")
    event_ids: list[str] = Field(description="Every event id cited in this digest.")


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc)
