"""Request and response bodies of the HTTP API (the agent's own models are returned as they are)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from agent.chat.conversation import MAX_MESSAGE_CHARS
from agent.explain.guards import readable_label, without_node_ids
from agent.forecast.shown import NO_FORECAST, claim_level, headline_claims
from agent.forecast.track_record import TrackRecord
from agent.forecast.views import ForecastView
from agent.llm.outputs import InterestProfile, PredictedShift
from agent.pipeline.refinement import Refinement
from agent.profiler import ProfileResult
from memory.digest_models import InterestNode, TrajectoryPoint
from memory.models import Event, Item

Identifier = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256)]
YEARS = {"any": 0, "newer": 1, "older": -1}
TopicName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class ErrorDetail(BaseModel):
    location: str = Field(description="Where in the request, e.g. 'body.events[3].action'.")
    message: str


class ErrorBody(BaseModel):
    type: str = Field(description="Machine-readable kind, e.g. 'invalid_request', 'forbidden', 'unknown_user'.")
    message: str = Field(description="What went wrong and what to change.")
    details: list[ErrorDetail] = Field(default_factory=list, description="Each invalid field, when there are several.")


class ErrorResponse(BaseModel):
    """Every error the API returns has this shape (also OpenAI's)."""

    error: ErrorBody


class ItemBatch(BaseModel):
    """Catalog items, stored all or nothing; an item sent again with new content is updated."""

    model_config = ConfigDict(extra="forbid")

    items: list[Item] = Field(min_length=1, description="At most api.max_items_per_request items.")

    @model_validator(mode="after")
    def _unique_ids(self) -> ItemBatch:
        first: dict[str, int] = {}
        for position, item in enumerate(self.items):
            if item.id in first:
                raise ValueError(f"item id {item.id!r} is used by items[{first[item.id]}] and items[{position}]: "
                                 "ids must be unique in a batch")
            first[item.id] = position
        return self


class EventBatch(BaseModel):
    """Behaviour events, stored all or nothing; an event id sent again changes nothing."""

    model_config = ConfigDict(extra="forbid")

    events: list[Event] = Field(
        min_length=1, description="At most memory.ingest_batch_size events; every item must be in the catalog."
    )


class RecommendationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: int | None = Field(default=None, ge=1, le=20, description="Items to return; unset: the configured default.")
    exclude_topics: list[TopicName] = Field(
        default_factory=list, max_length=50, description="Topic names (GET /topics) never to show."
    )
    prefer_topics: list[TopicName] = Field(
        default_factory=list, max_length=50, description="Topic names to rank higher."
    )
    avoid_topics: list[TopicName] = Field(
        default_factory=list, max_length=50, description="Topic names to rank lower (still allowed)."
    )
    year_preference: Literal["any", "newer", "older"] = "any"
    include_seen: bool = Field(default=False, description="Allow items the user already interacted with.")
    explain: bool = Field(default=True, description="Write a reason per item (LLM, or a template when shed).")

    def refinement(self, topic_ids: dict[str, str]) -> Refinement | None:
        """The filters as the agent's refinement; ``topic_ids`` maps topic names to node ids."""
        by_name = {label.lower(): node for label, node in topic_ids.items()}
        unknown = [n for n in self.exclude_topics + self.prefer_topics + self.avoid_topics if n.lower() not in by_name]
        if unknown:
            raise UnknownTopicError(unknown, sorted(topic_ids))
        boosts = {by_name[name.lower()]: 1.0 for name in self.prefer_topics}
        boosts |= {by_name[name.lower()]: -1.0 for name in self.avoid_topics}
        refinement = Refinement(exclude_topics={by_name[name.lower()] for name in self.exclude_topics},
                                topic_boosts=boosts, year_preference=YEARS[self.year_preference])
        return None if refinement.is_empty else refinement


class UnknownTopicError(ValueError):
    def __init__(self, unknown: list[str], known: list[str]):
        super().__init__(f"unknown topic {', '.join(map(repr, unknown))}: use one of {', '.join(known)} (GET /topics)")


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_id: Identifier = Field(description="A catalog item id, e.g. one from a recommendation.")
    positive: bool = Field(description="true: liked; false: not for me.")


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    session_id: Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")] = Field(
        default_factory=lambda: f"s-{uuid.uuid4().hex[:16]}",
        description="Keeps the conversation (refinements, 'why the second one?'); unset: a new session.",
    )
    message: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_MESSAGE_CHARS)]


class ShiftView(BaseModel):
    """The predicted shift with readable labels, read from the forecast's claims."""

    from_interest: str
    from_label: str
    to_interest: str
    to_label: str
    confidence: float | None = Field(
        description="The forecast's calibrated probability that `to` grows in the horizon (with no growth "
        "claimed: that `from` shrinks); None without a forecast or a claim.")
    horizon_text: str | None = Field(description="e.g. 'in the next 30 days'; None without a forecast.")
    rationale: str = Field(description="The forecast in words, or that there is no forecast yet.")

    @classmethod
    def of(cls, result: ProfileResult) -> ShiftView:
        forecast = result.forecast
        level = claim_level(forecast) if forecast is not None else None
        if forecast is None or level is None or not level.nodes:
            shift = result.profile.shift
            return cls(from_interest=shift.from_interest, from_label=readable_label(shift.from_interest, result.labels),
                       to_interest=shift.to_interest, to_label=readable_label(shift.to_interest, result.labels),
                       confidence=None, horizon_text=None, rationale=NO_FORECAST)
        grow, shrink = headline_claims(forecast)
        source = shrink or max(level.nodes, key=lambda node: node.share_now)
        target = grow or level.nodes[0]  # the nodes come largest expected share first
        labels = {node.id: node.label for node in level.nodes} | {c.id: c.label for c in forecast.claims}
        claim = grow or shrink
        return cls(from_interest=source.id, from_label=readable_label(source.id, labels), to_interest=target.id,
                   to_label=readable_label(target.id, labels), confidence=claim.probability if claim else None,
                   horizon_text=forecast.horizon_text, rationale=without_node_ids(forecast.text, labels))


class InterestTrajectory(BaseModel):
    """One long-term topic's strength over time (time buckets, oldest first)."""

    id: str
    label: str
    strength: float
    trend: float = Field(description="> 0 rising, < 0 fading.")
    points: list[TrajectoryPoint]

    @classmethod
    def of(cls, node: InterestNode) -> InterestTrajectory:
        return cls(id=node.id, label=readable_label(node.id, {node.id: node.label}), strength=node.strength,
                   trend=node.trend, points=node.trajectory)


class ProfileView(BaseModel):
    user: str
    text: str = Field(description="What the user likes now, in two sentences.")
    predicted_shift: ShiftView
    forecast: ForecastView | None = Field(
        description="Where the user's interests are heading: expected shares per level, the shift claims with "
        "their calibrated probabilities, the horizon; None until a forecast model has been trained.")
    track_record: TrackRecord | None = Field(description="How the user's earlier forecasts turned out.")
    trajectory: list[InterestTrajectory] = Field(description="Long-term topics, strongest first.")
    details: ProfileResult = Field(description="The full profile: interests named, baseline, model and prompt "
                                   "(its forecast and track record are the fields above).")

    @classmethod
    def of(cls, result: ProfileResult, topics: list[InterestNode]) -> ProfileView:
        labels = result.labels
        details = result.model_copy(update={
            "forecast": None, "track_record": None, "labels": {node: readable_label(node, labels) for node in labels},
            "profile": _readable_profile(result.profile, labels),
            "baseline_shift": _readable_shift(result.baseline_shift, labels)})
        return cls(user=result.user, text=details.profile.profile, predicted_shift=ShiftView.of(result),
                   forecast=result.forecast, track_record=result.track_record, details=details,
                   trajectory=[InterestTrajectory.of(node) for node in topics if node.level == "topic"])


def _readable_profile(profile: InterestProfile, labels: dict[str, str]) -> InterestProfile:
    return profile.model_copy(update={"profile": without_node_ids(profile.profile, labels),
                                      "shift": _readable_shift(profile.shift, labels)})


def _readable_shift(shift: PredictedShift, labels: dict[str, str]) -> PredictedShift:
    return shift.model_copy(update={"rationale": without_node_ids(shift.rationale, labels)})


class TopicList(BaseModel):
    topics: list[str] = Field(description="Names usable in recommendation filters.")


class Liveness(BaseModel):
    status: Literal["ok"] = "ok"
    time: datetime


class RolesView(BaseModel):
    earned: list[str] = Field(description="Roles the LLM plays now; stand-ins serve every other role.")
    card: str = Field(description="Where the role card stands: in use (its key and date), calibrating, or none.")
    failed_checks: dict[str, int] = Field(description="LLM outputs per role that failed a check and were "
                                          "replaced by the stand-in since start.")


class Readiness(BaseModel):
    status: Literal["ready", "degraded", "unavailable"] = Field(
        description="ready: all parts up; degraded: answers come without the LLM (template explanations); "
        "unavailable: Chroma is down."
    )
    chroma: bool
    llm: bool | None = Field(description="None when no LLM is configured.")
    llm_model: str | None
    sequential_model: bool = Field(description="SASRec serves (false until the first training finishes).")
    behaviour_version: str | None = Field(
        default=None, description="The trained behaviour-model version serving (`shiftrec train` publishes them)."
    )
    llm_queue: int = Field(description="Explanation requests at the LLM now.")
    max_llm_queue: int = Field(description="Beyond this, requests shed their LLM work and are served degraded.")
    roles: RolesView = Field(description="The roles the configured LLM earned against their stand-ins.")
    events_followed: int = Field(default=0, description="Events other workers logged that this worker counted "
                                 "into its item-kNN and popularity (it reads the shared log every log_poll_s).")
