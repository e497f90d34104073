"""Pieces of the forecast tests: hand-made forecasts over the small movie catalog's topics, a service
whose forecast is one of them (a fake behind `ShiftRecService.forecast`), and the check that no
node id reaches anything a person reads."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from agent.forecast.forecaster import shift_sentence
from agent.forecast.horizon import DAY_S, Horizon
from agent.forecast.shown import with_forecast
from agent.forecast.track_record import ForecastBook
from agent.forecast.views import ForecastView, LevelForecast, NodeForecast, ShiftClaim
from agent.profiler import ProfileResult
from agent.service import ShiftRecService
from memory.service_models import UnknownUserError

NODE_ID = re.compile(r"\bt:[a-z0-9]", re.IGNORECASE)
ID_FIELDS = {"id", "from_interest", "to_interest", "interest", "long_term", "short_term"}  # machine fields
# (id, label, share now, share expected, lead probability) at the topics' level
TOPICS = [("t:sci-fi", "Sci-Fi", 0.2, 0.5, 0.6), ("t:comedy", "Comedy", 0.8, 0.4, 0.3),
          ("t:drama", "Drama", 0.0, 0.05, 0.05)]
# (id, direction, probability): Sci-Fi grows, Comedy shrinks, Drama grows
CLAIMS = [("t:sci-fi", "grow", 0.7), ("t:comedy", "shrink", 0.65), ("t:drama", "grow", 0.2)]


def topics_level(nodes=TOPICS, other_share: float = 0.05) -> LevelForecast:
    return LevelForecast(depth=0, other_share=other_share, nodes=[
        NodeForecast(id=i, label=label, depth=0, share_now=now, share_expected=expected, lead_probability=lead)
        for i, label, now, expected, lead in nodes])


def claims_of(level: LevelForecast, claims=CLAIMS) -> list[ShiftClaim]:
    nodes = {node.id: node for node in level.nodes}
    return [ShiftClaim(id=i, label=nodes[i].label, depth=level.depth, direction=direction, probability=p,
                       share_now=nodes[i].share_now, share_expected=nodes[i].share_expected)
            for i, direction, p in claims]


def movie_forecast(user: str, made_at: datetime, events_at: int, horizon: Horizon, memory_version: str = "v1",
                   model_version: str = "fc-test", claims=CLAIMS, level: LevelForecast | None = None) -> ForecastView:
    """A forecast of ``user`` over the topics: by default Sci-Fi to grow, Comedy to shrink, Drama to grow."""
    level = level or topics_level()
    made = claims_of(level, claims)
    text = horizon.text("movies")
    due = datetime.fromtimestamp(made_at.timestamp() + horizon.size * DAY_S, tz=timezone.utc)
    return ForecastView(user=user, made_at=made_at, horizon=horizon, horizon_text=text,
                        due_at=due if horizon.unit == "days" else None, model_version=model_version,
                        memory_version=memory_version, events_at=events_at, levels=[level], claims=made,
                        text=shift_sentence(text, made))


class ForecastingService(ShiftRecService):
    """The service with a fitted forecast stood in by :func:`movie_forecast` over the next 3 events, and
    the profile carrying it as `ShiftRecService.profile` shows it (stored, with its track record)."""

    HORIZON = Horizon(unit="events", size=3)

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.book = ForecastBook(self.memory)

    def forecast(self, user: str) -> ForecastView | None:
        rows = self.memory.store.user_events(user)
        if not rows:
            raise UnknownUserError(user)
        last = datetime.fromtimestamp(max(float(row.metadata["ts"]) for row in rows), tz=timezone.utc)
        return movie_forecast(user, last, len(rows), self.HORIZON, self.memory.memory_version(user))

    def profile(self, user: str) -> ProfileResult:
        return with_forecast(self.profiler.profile(user), self.forecast(user), self.book)

    def profile_if_ready(self, user: str) -> ProfileResult | None:
        cached = self.profiler.cached(user)
        if cached is None:
            return super().profile_if_ready(user)
        return with_forecast(cached, self.forecast(user), self.book, track_record=False)


def node_ids_in(value: Any, where: str = "") -> list[str]:
    """Every text (a JSON string outside the id fields) that names a node id, as 'path: text'."""
    if isinstance(value, str):
        return [f"{where}: {value}"] if NODE_ID.search(value) else []
    if isinstance(value, dict):
        return [found for key, child in value.items() if key not in ID_FIELDS
                for found in node_ids_in(child, f"{where}.{key}")]
    if isinstance(value, list):
        return [found for i, child in enumerate(value) for found in node_ids_in(child, f"{where}[{i}]")]
    return []
