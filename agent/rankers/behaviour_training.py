"""Train the behaviour models on the current log and publish them as a new artifact version.

What `shiftrec train` runs (a separate process) and what a service runs in the background
when it starts without any artifact or when its retraining schedule comes due. SASRec trains
without each user's newest event; those held-out events pick its best epoch and tune the
fusion weights, which travel with the version so every worker serves the same fusion.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone

from agent.forecast.model_file import ForecastModel
from agent.forecast.training import ForecastInputs, NotEnoughHistoryError, fit_forecast
from agent.rankers.artifacts import ArtifactMeta, ArtifactStore, log_fingerprint, new_version
from agent.rankers.behaviour import SERVING_SEQUENTIAL_CONFIG, BehaviourModels
from agent.rankers.sequences import UserSequences, build_user_sequences, hold_out_last
from agent.rankers.sequential import SequentialConfig, SequentialModel
from agent.rankers.sequential_training import train_sequential
from agent.rankers.weight_tuning import WeightChoice, choose_weights
from agent.settings import AgentSettings

log = logging.getLogger(__name__)
LogRow = tuple[str, str, float, float]


def fit_behaviour(rows: Sequence[LogRow], sequential: SequentialModel | None) -> BehaviourModels:
    """Popularity and item-kNN fitted on ``rows`` now, with a given SASRec (or none)."""
    return _fitted(_sequences(rows), sequential)


def _sequences(rows: Sequence[LogRow]) -> UserSequences | None:
    """Each user's items in time order (None for an empty log)."""
    return build_user_sequences(*([row[i] for row in rows] for i in range(3))) if rows else None


class TrainingStopped(Exception):
    """Training was asked to stop (the service is closing); nothing was published."""


def _checker(stop: threading.Event | None) -> Callable[[], None]:
    def halt() -> None:
        if stop is not None and stop.is_set():
            raise TrainingStopped("behaviour training stopped: the service is closing")
    return halt


def _fitted(sequences: UserSequences | None, sequential: SequentialModel | None) -> BehaviourModels:
    if sequences is None:
        return BehaviourModels.from_log([], None)
    return BehaviourModels(sequences, sequential, hold_out_last(sequences))


def tune_weights(behaviour: BehaviourModels, agent: AgentSettings) -> WeightChoice:
    """Fusion weights that rank the held-out newest events best (seen items count where the domain repeats)."""
    cases = behaviour.tuning_cases(agent.tuning_users, agent.candidates_per_source, include_seen=bool(agent.allow_seen))
    return choose_weights(cases, agent.source_weights)


def train_behaviour(
    rows: Sequence[LogRow], store: ArtifactStore, agent: AgentSettings,
    config: SequentialConfig = SERVING_SEQUENTIAL_CONFIG, progress: bool = True,
    echo: Callable[[str], None] = log.info, forecast_inputs: ForecastInputs | None = None,
    stop: threading.Event | None = None,
) -> ArtifactMeta:
    """SASRec on the log without each user's newest event, fusion weights tuned on those events, and the
    interest-shift forecast on the log's earlier cuts; published together. ``stop`` (a service shutting
    down) ends it after the current SASRec epoch or step with :class:`TrainingStopped`, publishing nothing."""
    halt = _checker(stop)
    started = time.perf_counter()
    rows = list(rows)
    fingerprint = log_fingerprint(rows)
    sequences = _sequences(rows)  # built once: SASRec trains on it and the other models fit on it
    sequential = None
    if sequences is not None:
        train, held_out = hold_out_last(sequences)
        echo(f"training SASRec on {len(train)} users, {train.num_items} items ({len(rows)} events)")
        try:
            sequential = train_sequential(train, config, progress, held_out if len(held_out) else None,
                                          on_epoch=lambda _: halt())
        except ValueError as error:  # too small a log: nobody has two events to learn from
            echo(f"no SASRec this time: {error}")
    halt()
    behaviour = _fitted(sequences, sequential)
    weights, summary = None, None
    if agent.tune_source_weights:
        choice = tune_weights(behaviour, agent)
        weights, summary = (dict(choice.weights) if choice.tuned else None), choice.summary()
        echo(summary)
    halt()
    forecast = _forecast(rows, forecast_inputs, echo)
    halt()
    meta = ArtifactMeta(
        version=new_version(fingerprint), trained_at=datetime.now(timezone.utc), log_fingerprint=fingerprint,
        events=len(rows), users=len({row[0] for row in rows}), items=len({row[1] for row in rows}),
        sequential=sequential is not None,
        seconds=round(time.perf_counter() - started, 1), weights=weights, weights_summary=summary,
        forecast=forecast is not None, forecast_horizon=forecast.horizon.key if forecast else None,
    )
    path = store.publish(meta, sequential, forecast)
    echo(f"behaviour models {meta.version} written to {path} in {meta.seconds:.0f} s")
    return meta


def _forecast(rows: Sequence[LogRow], inputs: ForecastInputs | None, echo: Callable[[str], None]) -> ForecastModel | None:
    """The forecast fitted on the log, or None (no catalog given, or too little history: said in the log)."""
    if inputs is None:
        return None
    started = time.perf_counter()
    try:
        model = fit_forecast([(user, item, ts) for user, item, ts, _ in rows], inputs.nodes_of, inputs.horizon,
                             inputs.named, inputs.window_size, echo=echo)
    except NotEnoughHistoryError as error:
        echo(f"no forecast this time: {error}")
        return None
    echo(f"forecast ({inputs.horizon.key}) fitted in {time.perf_counter() - started:.1f} s")
    return model
