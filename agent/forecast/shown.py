"""What people are shown of the forecast, in every place it appears (API, web UI, chat, CLI): the
forecast's own sentence and track record, the level its claims are at, and the words without one."""

from __future__ import annotations

from datetime import datetime, timezone

from agent.explain.guards import readable_label, without_node_ids
from agent.forecast.track_record import ForecastBook, TrackRecord
from agent.forecast.views import ForecastView, LevelForecast, ShiftClaim
from agent.profiler import ProfileResult

NO_FORECAST = ("No forecast of how your interests will shift is available yet: the forecast model has not been "
               "trained on the activity log.")
NODES_TABULATED = 5


def with_forecast(result: ProfileResult, forecast: ForecastView | None, book: ForecastBook,
                  now: datetime | None = None, track_record: bool = True) -> ProfileResult:
    """The profile with the forecast shown now, stored for its track record (and that record, unless
    ``track_record`` is off: the chat's list intro needs only the sentence)."""
    if forecast is not None:
        forecast = readable(forecast)
        book.save(forecast)
    record = book.track_record(result.user, now) if track_record else None
    return result.model_copy(update={"forecast": forecast, "track_record": record})


def score_clock(event_clock: str) -> datetime | None:
    """When a calendar horizon has passed: the wall clock, or (None) the user's own latest event when replayed."""
    return datetime.now(timezone.utc) if event_clock == "wall" else None


def readable(forecast: ForecastView) -> ForecastView:
    """The forecast with no node id in a label or its sentence (a label falls back to its id only when the
    catalog lacks the node; a person never reads an id)."""
    labels = {node.id: node.label for level in forecast.levels for node in level.nodes}
    labels |= {claim.id: claim.label for claim in forecast.claims}
    levels = [level.model_copy(update={"nodes": [node.model_copy(update={"label": readable_label(node.id, labels)})
                                                 for node in level.nodes]}) for level in forecast.levels]
    claims = [claim.model_copy(update={"label": readable_label(claim.id, labels)}) for claim in forecast.claims]
    return forecast.model_copy(update={"levels": levels, "claims": claims,
                                       "text": without_node_ids(forecast.text, labels)})


def forecast_paragraph(forecast: ForecastView | None, record: TrackRecord | None = None) -> str:
    """The forecast's sentence (probabilities and horizon), then the track record's; or that there is none."""
    if forecast is None:
        return NO_FORECAST
    return forecast.text if record is None else f"{forecast.text} {record.text}"


def claim_level(forecast: ForecastView) -> LevelForecast | None:
    """The level the claims are about (the topics' when there is no claim)."""
    depth = forecast.claims[0].depth if forecast.claims else min((lv.depth for lv in forecast.levels), default=None)
    return next((level for level in forecast.levels if level.depth == depth), None)


def headline_claims(forecast: ForecastView) -> tuple[ShiftClaim | None, ShiftClaim | None]:
    """The claim the shift is towards (the first "grow") and away from (the first "shrink")."""
    grow = next((claim for claim in forecast.claims if claim.direction == "grow"), None)
    shrink = next((claim for claim in forecast.claims if claim.direction == "shrink"), None)
    return grow, shrink
