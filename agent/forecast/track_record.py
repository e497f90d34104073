"""Every forecast shown, kept until its horizon has passed and then scored once: the track record
that tells a person how far to trust the probabilities they read.

A shown forecast is one row of Chroma's ``recommendation_records`` collection (metadata ``kind``
= "forecast", the user, when it was made and when it is due; document = the forecast and, once
scored, its score), so deleting a user deletes their forecasts with everything else. Its id is
the user, memory version and model version hashed: a forecast shown twice is stored once.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timezone

import numpy as np
from pydantic import BaseModel, Field, computed_field

from agent.forecast.scoring import ForecastScore, LoggedEvent, ScoredClaim, is_due, score
from agent.forecast.views import ForecastView
from memory.history_view import item_nodes
from memory.rows import Row
from memory.service import InterestMemory
from memory.taxonomy import node_depth

FORECAST_KIND = "forecast"  # the rows' ``kind``; recommendation records have none (agent.explain.records)
LATEST_SHOWN = 3
_EVERY_ROW = 1 << 62  # ChromaStore.user_records keeps this many: all of them


class StoredForecast(BaseModel):
    """A forecast as shown, and its score once its horizon has passed."""

    forecast: ForecastView
    score: ForecastScore | None = None
    scored_at: datetime | None = None


class ScoredForecastView(BaseModel):
    """One earlier forecast and how its claims turned out."""

    made_at: datetime
    horizon_text: str
    text: str
    events: int = Field(description="The user's events in its horizon.")
    claims: list[ScoredClaim] = Field(description="Empty when no event of the horizon reached the claims' level.")


class TrackRecord(BaseModel):
    """How the user's earlier forecasts did, once their horizons had passed."""

    forecasts_made: int
    forecasts_scored: int
    claims_scored: int
    claims_came_true: int
    mean_stated_probability: float | None = Field(description="Mean probability the scored claims were given.")
    lead_hit_rate: float | None = Field(
        description="How often the node that led the horizon at the claims' level was among the 3 the forecast "
        "gave the highest lead probability (scored forecasts with claims).")
    latest: list[ScoredForecastView] = Field(description="The latest scored forecasts, newest first.")

    @computed_field(description="The record in one sentence.")
    @property
    def text(self) -> str:
        if not self.forecasts_scored:
            return "No earlier forecast has reached its horizon yet."
        if not self.claims_scored:
            return "Earlier forecasts reached their horizon, but with no activity in it to check their claims."
        return (f"Earlier forecasts: {self.claims_came_true} of {self.claims_scored} claims came true "
                f"(stated {self.mean_stated_probability:.0%} on average).")


class ForecastBook:
    """Stores the forecasts shown and scores them, always per user."""

    def __init__(self, memory: InterestMemory):
        self._memory = memory

    def save(self, forecast: ForecastView) -> bool:
        """Store the forecast unless it is already stored (then its score, if any, is kept)."""
        row_id = forecast_row_id(forecast.user, forecast.memory_version, forecast.model_version)
        if self._memory.store.user_record(forecast.user, row_id) is not None:
            return False
        self._write(row_id, StoredForecast(forecast=forecast))
        return True

    def stored(self, user: str) -> list[StoredForecast]:
        """The user's forecasts, newest first."""
        rows = [row for row in self._memory.store.user_records(user, _EVERY_ROW)
                if row.metadata.get("kind") == FORECAST_KIND and row.document]
        found = [StoredForecast.model_validate_json(row.document) for row in rows]
        return sorted(found, key=lambda stored: stored.forecast.made_at, reverse=True)

    def track_record(self, user: str, now: datetime | None = None) -> TrackRecord:
        """Score every due forecast not scored yet (stored, never recomputed), then summarise.

        ``now`` decides when a calendar horizon has passed; None: the user's latest event, the clock
        the forecast read (``made_at`` is its history's end), which also suits a replayed log."""
        stored = self.stored(user)
        if any(entry.score is None for entry in stored):
            stored = self._score_due(user, stored, now)
        return summarise(stored)

    def _score_due(self, user: str, stored: list[StoredForecast], now: datetime | None) -> list[StoredForecast]:
        events = self._events(user)
        if now is None:
            now = datetime.fromtimestamp(max((e.ts for e in events), default=0.0), tz=timezone.utc)
        levels = self._level_nodes()
        updated = []
        for entry in stored:
            if entry.score is None and is_due(entry.forecast, events, now):
                entry = StoredForecast(forecast=entry.forecast, score=score(entry.forecast, events, levels),
                                       scored_at=datetime.now(timezone.utc))
                forecast = entry.forecast
                self._write(forecast_row_id(user, forecast.memory_version, forecast.model_version), entry)
            updated.append(entry)
        return updated

    def _events(self, user: str) -> list[LoggedEvent]:
        """The user's whole log with every node of each item (items the catalog lacks are left out)."""
        rows = self._memory.store.user_events(user)
        entries = self._memory.catalog.entries(str(row.metadata["item"]) for row in rows)
        return [LoggedEvent(int(row.metadata["seq"]), float(row.metadata["ts"]),
                            item_nodes(entries[str(row.metadata["item"])].pairs))
                for row in rows if str(row.metadata["item"]) in entries]

    def _level_nodes(self) -> dict[int, frozenset[str]]:
        by_depth: dict[int, set[str]] = defaultdict(set)
        for node_id in self._memory.catalog.topics():
            by_depth[node_depth(node_id)].add(node_id)
        return {depth: frozenset(nodes) for depth, nodes in by_depth.items()}

    def _write(self, row_id: str, entry: StoredForecast) -> None:
        forecast = entry.forecast
        metadata = {"user": forecast.user, "kind": FORECAST_KIND, "made": forecast.made_at.timestamp(),
                    "due": forecast.due_at.timestamp() if forecast.due_at else -1.0,
                    "due_events": forecast.events_at + forecast.horizon.size if forecast.due_at is None else -1,
                    "scored": entry.score is not None}
        self._memory.store.add_record(Row(row_id, self._vector(), metadata, entry.model_dump_json()))

    def _vector(self) -> np.ndarray:
        """Any unit vector: forecast rows are read by user and id, never searched."""
        vector = np.zeros(self._memory.store.dimension, dtype=np.float32)
        vector[0] = 1.0
        return vector


def forecast_row_id(user: str, memory_version: str, model_version: str) -> str:
    digest = hashlib.sha1("\x00".join((user, memory_version, model_version)).encode()).hexdigest()
    return f"forecast-{digest[:24]}"


def summarise(stored: Sequence[StoredForecast]) -> TrackRecord:
    """The track record of ``stored`` (newest first)."""
    scored = [entry for entry in stored if entry.score is not None]
    claims = [claim for entry in scored for claim in entry.score.claims]
    hits = [level.lead_hit for entry in scored for level in entry.score.levels if level.lead_hit is not None]
    return TrackRecord(
        forecasts_made=len(stored), forecasts_scored=len(scored), claims_scored=len(claims),
        claims_came_true=sum(claim.came_true for claim in claims),
        mean_stated_probability=round(sum(c.probability for c in claims) / len(claims), 4) if claims else None,
        lead_hit_rate=round(sum(hits) / len(hits), 4) if hits else None,
        latest=[ScoredForecastView(made_at=entry.forecast.made_at, horizon_text=entry.forecast.horizon_text,
                                   text=entry.forecast.text, events=entry.score.events, claims=entry.score.claims)
                for entry in scored[:LATEST_SHOWN]],
    )
