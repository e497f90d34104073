"""What was recommended, to whom, why and by what: stored for every result, read by "why?".

A record is one row of Chroma's ``recommendation_records`` collection (document = this
JSON, metadata = user and time, vector = mean of the items' vectors), so deleting a user
deletes their records with everything else. The forecasts shown share the collection; their
rows carry a ``kind`` (agent.forecast.track_record) and are never read here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from agent.chat.mentions import mentioned_items
from agent.pipeline.refinement import Refinement
from agent.roles.names import COMPUTED
from memory.embeddings import unit
from memory.rows import Row
from memory.service_models import PastEvent
from memory.store import ChromaStore


class EvidenceRef(PastEvent):
    """One of the user's own past events, cited for a recommendation."""

    @property
    def prompt_text(self) -> str:
        """What happened, without the date (short, for prompts)."""
        if self.action == "rate" and self.value is not None:
            return f"rated {self.title} {self.value:g}/5"
        return f"{_PAST_TENSE.get(self.action, self.action)} {self.title}"

    @property
    def text(self) -> str:
        return f"{self.prompt_text} on {self.timestamp.date().isoformat()}"


_PAST_TENSE = {"like": "liked", "view": "viewed", "click": "clicked", "purchase": "bought", "stated": "said you like"}


class Explanation(BaseModel):
    """Why one item fits: a short reason and the evidence behind it."""

    reason: str = Field(max_length=160)
    evidence: list[EvidenceRef]
    interest: str | None = Field(description="Interest node id the item serves.")
    interest_label: str | None
    source: Literal["llm", "template"]
    degraded: bool = Field(description="True when the LLM could not write it and the template did.")
    degraded_reason: str | None = None
    note: str | None = Field(default=None, description="Why the LLM's own sentence was not used, when it was not.")
    prompt: str | None = None
    model_id: str | None = None
    made_by: str = Field(default=COMPUTED, description="'computed from your history', or 'written by <model>' "
                         "when the LLM chose its evidence or words.")


class RecommendedItem(BaseModel):
    rank: int
    item_id: str
    title: str
    categories: list[str]
    score: float = Field(description="Fused score (weighted z-scores of the sources, refinements applied).")
    sources: dict[str, float] = Field(description="Raw score per source that proposed the item.")
    explanation: Explanation | None = Field(default=None, description="None while it is being written.")


class RecommendationRecord(BaseModel):
    id: str
    user: str
    created_at: datetime
    items: list[RecommendedItem]
    memory_version: str
    model_id: str | None
    behaviour_version: str | None = Field(
        default=None, description="The trained behaviour-model version (SASRec, fusion weights) that ranked it."
    )
    prompts: dict[str, str] = Field(description="Step -> prompt name/version used.")
    refinement: Refinement | None = None
    standing: list[str] = Field(default_factory=list, description="Standing preferences from the memory that "
                                "shaped the list, in words (pinned topics, faded ones).")
    notes: list[str] = Field(default_factory=list, description="What a refinement could not do here, in words.")
    cold_start: bool
    degraded: bool
    degraded_reasons: list[str] = Field(default_factory=list)
    intra_list_diversity: float

    def item(self, item_id: str) -> RecommendedItem | None:
        return next((entry for entry in self.items if entry.item_id == item_id), None)


class UnknownRecordError(KeyError):
    def __str__(self) -> str:
        return f"no recommendation {self.args[0]!r} for this user: use an id returned by a recommendation"


class RecordBook:
    """Stores and finds records, always per user."""

    def __init__(self, store: ChromaStore):
        self._store = store

    def save(self, record: RecommendationRecord, vectors: Sequence[np.ndarray]) -> None:
        vector = unit(np.mean(np.stack(vectors), axis=0)) if len(vectors) else np.zeros(self._store.dimension)
        metadata = {"user": record.user, "created": record.created_at.timestamp()}
        self._store.add_record(Row(record.id, vector.astype(np.float32), metadata, record.model_dump_json()))

    def get(self, user: str, record_id: str) -> RecommendationRecord:
        row = self._store.user_record(user, record_id)
        if row is None or row.document is None or not _is_recommendation(row):
            raise UnknownRecordError(record_id)
        return RecommendationRecord.model_validate_json(row.document)

    def latest(self, user: str, limit: int = 10) -> list[RecommendationRecord]:
        return [RecommendationRecord.model_validate_json(row.document) for row in self._store.user_records(user, limit)
                if row.document and _is_recommendation(row)]

    def forget_items(self, user: str, items: set[str]) -> int:
        """Delete the user's records that cite any of ``items`` as evidence (the person asked to forget them)."""
        doomed = []
        for row in self._store.user_records(user, limit=None):
            if row.document and _is_recommendation(row):
                record = RecommendationRecord.model_validate_json(row.document)
                cited = {ref.item_id for entry in record.items if entry.explanation
                         for ref in entry.explanation.evidence}
                if cited & items:
                    doomed.append(row.id)
        self._store.delete_records(doomed)
        return len(doomed)

    def find_by_title(self, user: str, text: str, limit: int = 10) -> tuple[RecommendationRecord, str] | None:
        """The newest record that recommended an item whose title ``text`` mentions."""
        for record in self.latest(user, limit):
            found = mentioned_items(text, [(entry.item_id, entry.title) for entry in record.items])
            if found:
                return record, found[0]
        return None


def _is_recommendation(row: Row) -> bool:
    """Rows of another kind (the forecasts shown) carry one; recommendation records never did."""
    return "kind" not in row.metadata
