"""What a forecast says, as people and the API read it: probabilities per node and level, the
shift claims with their probabilities, the horizon, and the sentence built from them only."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from agent.forecast.horizon import Horizon


class NodeForecast(BaseModel):
    id: str
    label: str
    depth: int
    share_now: float = Field(description="Share of the user's events in the last horizon-long window.")
    share_expected: float = Field(description="Forecast share of the user's events in the horizon.")
    lead_probability: float = Field(
        description="Probability that this node leads (has the largest share of the events) in the horizon.")


class LevelForecast(BaseModel):
    depth: int = Field(description="0: topics; 1: their children; 2 and more: deeper levels.")
    nodes: list[NodeForecast] = Field(description="The most likely nodes, largest expected share first.")
    other_share: float = Field(description="Expected share of every node not listed.")


class ShiftClaim(BaseModel):
    """One statement of the predicted shift; it is scored when the horizon has passed."""

    id: str
    label: str
    depth: int
    direction: Literal["grow", "shrink"]
    probability: float = Field(ge=0, le=1, description="Calibrated probability that the claim comes true.")
    share_now: float
    share_expected: float


class ForecastView(BaseModel):
    user: str
    made_at: datetime = Field(description="When the forecast was made; it reads nothing after this.")
    horizon: Horizon
    horizon_text: str = Field(description="e.g. 'in the next 30 days'.")
    due_at: datetime | None = Field(description="When a calendar horizon ends (None for an event horizon).")
    model_version: str = Field(description="The fitted forecast version (`shiftrec train` writes them).")
    memory_version: str
    events_at: int = Field(description="How many events the user had when it was made (an event horizon counts on).")
    levels: list[LevelForecast]
    claims: list[ShiftClaim]
    text: str = Field(description="The predicted shift in words; every number and name comes from the claims.")
    made_by: str = Field(default="the learned forecast", description="What made the claim level's distribution: "
                         "the learned forecast, or a LoRA adapter that earned the role.")
