"""The service's behaviour models as they change while it serves (a mixin of the service, kept apart so
each file stays small): trained versions swapped in, the forecast served, and every event counted."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence

from agent.forecast.forecaster import Forecaster, user_forecast
from agent.forecast.model_file import ForecastModel
from agent.forecast.views import ForecastView
from agent.model_updates import ModelSwap
from agent.pipeline.candidates import CandidateGenerator
from agent.rankers.artifacts import ArtifactMeta
from agent.rankers.behaviour import BehaviourModels
from agent.roles.gate import RoleGate
from agent.roles.names import Role
from agent.settings import AgentConfig
from memory.service import InterestMemory


class BehaviourSupport:
    settings: AgentConfig
    memory: InterestMemory
    behaviour: BehaviourModels
    roles: RoleGate
    shift_adapter: object
    forecaster: Forecaster | None
    model_version: str | None
    source_weights: dict[str, float]
    _observe_lock: threading.Lock
    _swap: ModelSwap | None
    _candidates: CandidateGenerator

    # ---------------------------------------------------------------- behaviour model versions
    def logged_events(self) -> int:
        return self.memory.event_count()

    @contextlib.contextmanager
    def model_swap(self) -> Iterator[ModelSwap]:
        """New models fitted inside serve from its end on; events observed meanwhile are replayed into them."""
        swap = ModelSwap(self.memory)
        with self._observe_lock:
            self._swap = swap
        try:
            yield swap
        finally:
            with self._observe_lock:
                self._swap = None
                if swap.models is not None and swap.meta is not None:
                    swap.replay()
                    self._serve(swap.models, swap.meta)
                    self.serve_forecast(swap.forecast)

    def _serve(self, behaviour: BehaviourModels, meta: ArtifactMeta) -> None:
        """Swap in at once: a running request keeps the objects it already holds."""
        self._candidates = CandidateGenerator(self.memory, behaviour, self.settings.agent)
        self.behaviour = behaviour
        if meta.weights:
            self.source_weights = dict(meta.weights)
        self.model_version = meta.version

    def serve_forecast(self, model: ForecastModel | None) -> None:
        """Serve this fitted forecast (None: none) from now on."""
        self.forecaster = (Forecaster(model, self.memory.catalog.label, self.settings.words, self._earned_adapter)
                           if model else None)

    def _earned_adapter(self):
        """The shift adapter while its role card shows it beating the learned forecast, else None."""
        earned = self.shift_adapter is not None and self.roles.earned(Role.SHIFT_FORECAST)
        return self.shift_adapter if earned else None

    def forecast(self, user: str) -> ForecastView | None:
        """The user's interest-shift forecast now; None until a forecast has been fitted on the log."""
        return user_forecast(self.forecaster, self.memory, user)

    def _observe(self, user: str, history: Sequence[str], item: str, timestamp: float) -> None:
        with self._observe_lock:
            self.behaviour.observe(history, item, timestamp)
            if self._swap is not None:
                self._swap.pending.append((user, list(history), item, timestamp))
