"""The shipped forecast: every fitted level of one `ForecastModel` applied to a user's history view.

The model comes from the trained artifact version (`shiftrec train`); where none is fitted yet
the service says so instead of inventing probabilities.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import numpy as np

from agent.forecast.features import user_vectors
from agent.forecast.horizon import DAY_S
from agent.forecast.model_file import ForecastModel
from agent.forecast.shift_claims import claims
from agent.forecast.views import ForecastView, LevelForecast, NodeForecast, ShiftClaim
from memory.domain import DomainWords, capitalised
from memory.history_view import HistoryView

NODES_SHOWN = 8


class Forecaster:
    def __init__(self, model: ForecastModel, label: Callable[[str], str], words: DomainWords,
                 adapter: Callable[[], object | None] = lambda: None):
        self.model = model
        self._label = label
        self._words = words
        self._adapter = adapter  # the served shift adapter while it holds the role, else None

    def forecast(self, view: HistoryView, memory_version: str, made_at: datetime | None = None) -> ForecastView:
        made_at = made_at or datetime.fromtimestamp(view.as_of, tz=timezone.utc)
        horizon = self.model.horizon
        levels, made, made_by = [], [], "the learned forecast"
        adapter = self._adapter()
        for depth, level_model in sorted(self.model.levels.items()):
            population = self.model.populations[depth]
            user = user_vectors(view, level_model.level, horizon)
            p = level_model.distribution(user, population)
            if depth == self.model.claim_depth and adapter is not None and adapter.applies_to(level_model.level):
                written = adapter.distribution(view, level_model.level, population)
                if written is not None:
                    p, made_by = written, adapter.made_by
            lead = level_model.lead_probability(user, p)
            nodes = level_model.level.nodes
            shown = np.lexsort((np.arange(len(p)), -p))[:NODES_SHOWN]
            levels.append(LevelForecast(depth=depth, other_share=round(float(1 - p[shown].sum()), 4), nodes=[
                NodeForecast(id=nodes[i], label=self._label(nodes[i]), depth=depth,
                             share_now=round(float(user.recent[i]), 4),
                             share_expected=round(float(p[i]), 4), lead_probability=round(float(lead[i]), 4))
                for i in shown.tolist()]))
            if depth == self.model.claim_depth:
                made = [ShiftClaim(id=nodes[c.node], label=self._label(nodes[c.node]), depth=depth,
                                   direction=c.direction,
                                   probability=round(c.probability, 4), share_now=round(c.share_now, 4),
                                   share_expected=round(c.share_expected, 4))
                        for c in claims(level_model, user, p)]
        text_horizon = horizon.text(self._words.plural)
        return ForecastView(
            user=view.user, made_at=made_at, horizon=horizon, horizon_text=text_horizon,
            due_at=made_at + timedelta(seconds=horizon.size * DAY_S) if horizon.unit == "days" else None,
            model_version=self.model.version, memory_version=memory_version, events_at=view.events,
            levels=levels, claims=made, text=shift_sentence(text_horizon, made), made_by=made_by,
        )


def user_forecast(forecaster: Forecaster | None, memory, user: str) -> ForecastView | None:
    """The user's forecast now (None without a fitted one), made no earlier than the data it reads."""
    if forecaster is None:
        return None
    view = memory.history_view(user, forecaster.model.fitted_until)
    return forecaster.forecast(view, memory.memory_version(user))


def shift_sentence(horizon_text: str, made: list[ShiftClaim]) -> str:
    """'In the next 30 days: Frozen Meals 62% likely to grow, Baking 71% likely to shrink.'"""
    if not made:
        return f"{capitalised(horizon_text)}: no change stands out; your mix is expected to stay as it is."
    parts = [f"{claim.label} {claim.probability:.0%} likely to {claim.direction}" for claim in made]
    return f"{capitalised(horizon_text)}: " + ", ".join(parts) + "."
