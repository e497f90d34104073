"""Keep a running service on the newest behaviour models, without a restart or a failed request.

A background thread watches the artifact folder: when `shiftrec train` (or this thread, on a
first start without models or when its schedule comes due) publishes a version, the new
models are fitted beside the serving ones and swapped in at once; requests already running
finish on the models they started with. Nothing here blocks a request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

from agent.forecast.horizon import Horizon
from agent.forecast.model_file import ForecastFileError, ForecastModel
from agent.forecast.training import ForecastInputs
from agent.rankers.artifacts import ArtifactMeta, ArtifactStore
from agent.rankers.behaviour import BehaviourModels
from agent.rankers.behaviour_training import LogRow, TrainingStopped, fit_behaviour, train_behaviour
from agent.rankers.sequential import SequentialModel
from agent.settings import AgentSettings
from memory.service import InterestMemory

log = logging.getLogger(__name__)
STOP_WAIT_S = 120.0  # the longest a closing service waits for a training to reach its next epoch


class ModelSwap:
    """One swap in progress: the log it fitted on, the events observed meanwhile, the models to serve."""

    def __init__(self, memory: InterestMemory):
        self.memory = memory
        self.pending: list[tuple[str, list[str], str, float]] = []  # (user, history, item, time)
        self.models: BehaviourModels | None = None
        self.meta: ArtifactMeta | None = None
        self.forecast: ForecastModel | None = None
        self._logged: set[tuple[str, str, float]] = set()

    def log(self) -> list[LogRow]:
        rows = list(self.memory.event_log())
        self._logged = {(user, item, round(when, 3)) for user, item, when, _ in rows}
        return rows

    def install(self, models: BehaviourModels, meta: ArtifactMeta, forecast: ForecastModel | None = None) -> None:
        self.models, self.meta, self.forecast = models, meta, forecast

    def replay(self) -> None:
        """Count the events the log read missed (those it already held are not counted twice)."""
        assert self.models is not None
        for user, history, item, when in self.pending:
            if (user, item, round(when, 3)) not in self._logged:
                self.models.observe(history, item, when)


class UpdatableService(Protocol):
    """What the watcher needs of the service (agent/service.py), without importing it."""

    memory: InterestMemory
    model_version: str | None

    def logged_events(self) -> int: ...

    def model_swap(self) -> AbstractContextManager[ModelSwap]: ...


def served_models(
    fixed: Path | None, store: ArtifactStore, echo: Callable[[str], None]
) -> tuple[ArtifactMeta | None, SequentialModel | None]:
    """The fixed SASRec file when one is configured, else the current trained version (if readable)."""
    if fixed is not None:
        return None, SequentialModel.load(fixed)
    meta = store.current()
    if meta is None:
        return None, None
    try:
        return meta, store.sequential(meta)
    except (OSError, ValueError) as error:
        echo(f"behaviour models {meta.version} could not be read ({error}); serving without SASRec")
        return None, None


def served_forecast(store: ArtifactStore, meta: ArtifactMeta, horizon: Horizon,
                    echo: Callable[[str], None]) -> ForecastModel | None:
    """The version's forecast where it was fitted for the configured horizon and can be read."""
    if not meta.forecast:
        return None
    if meta.forecast_horizon != horizon.key:
        echo(f"the forecast of {meta.version} looks {meta.forecast_horizon} ahead, the settings say {horizon.key}: "
             "not served until `shiftrec train` refits it")
        return None
    try:
        return store.forecast(meta)
    except ForecastFileError as error:
        echo(f"the forecast of {meta.version} could not be read ({error})")
        return None


class ModelUpdates:
    """Watches ``store`` for new versions and, when configured, trains them on a schedule."""

    def __init__(self, service: UpdatableService, store: ArtifactStore, settings: AgentSettings, horizon: Horizon,
                 train_now: bool = False, echo: Callable[[str], None] = log.info):
        self.service = service
        self.horizon = horizon  # the service's (it knows the domain's default)
        self.store = store
        self.settings = settings
        self.echo = echo
        self._train_now = train_now  # a first start without any version: train one in the background
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._trained_events = service.logged_events()
        self._trained_at = time.monotonic()

    def start(self) -> ModelUpdates:
        self._thread = threading.Thread(target=self._run, name="model-updates", daemon=True)
        self._thread.start()
        return self

    def stop(self, wait_s: float = STOP_WAIT_S) -> None:
        """Stop watching; a training under way ends after its current epoch or step (a daemon thread still in
        torch when the interpreter exits would crash it)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(wait_s)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self._train_now or self._schedule_due():
                    self._train_now = False
                    self.train()
                self.check()
            except TrainingStopped:
                return
            except Exception:  # a failed training or load must never take the service down
                log.exception("behaviour model update failed; serving the current models")
            self._stop.wait(self.settings.model_poll_s)

    def check(self) -> bool:
        """Load the current version if it is not the one serving; True when a new one was swapped in."""
        meta = self.store.current()
        if meta is None or meta.version == self.service.model_version:
            return False
        self.load(meta)
        return True

    def load(self, meta: ArtifactMeta) -> None:
        sequential = self.store.sequential(meta)
        forecast = served_forecast(self.store, meta, self.horizon, self.echo)
        with self.service.model_swap() as swap:
            rows = swap.log()
            swap.install(fit_behaviour(rows, sequential), meta, forecast)
        self.echo(f"serving behaviour models {meta.version} ({meta.events} events, "
                  f"SASRec {'on' if meta.sequential else 'off'})")

    def train(self) -> ArtifactMeta:
        rows = list(self.service.memory.event_log())
        inputs = ForecastInputs.from_memory(self.service.memory, {row[1] for row in rows}, self.horizon)
        meta = train_behaviour(rows, self.store, self.settings, progress=False, echo=self.echo, forecast_inputs=inputs,
                               stop=self._stop)
        self._trained_events, self._trained_at = len(rows), time.monotonic()
        return meta

    def _schedule_due(self) -> bool:
        every_events, every_minutes = self.settings.retrain_every_events, self.settings.retrain_every_minutes
        if every_events and self.service.logged_events() - self._trained_events >= every_events:
            return True
        return bool(every_minutes) and time.monotonic() - self._trained_at >= every_minutes * 60
