"""The shift task of the current log in memory: what `shiftrec train --llm shift` learns from and
`shiftrec calibrate` judges on. The level is the forecast's claim level (the deepest named level
that places nearly every item), the cuts are the forecast's, each user's latest window held out."""

from __future__ import annotations

from collections.abc import Sequence

from agent.finetune.replay import ReplayContext
from agent.finetune.shift_task import ShiftTask, split_cuts
from agent.forecast.cases import user_logs
from agent.forecast.horizon import Horizon
from agent.forecast.population import LevelIndex
from agent.forecast.training import ForecastInputs, claim_depth, forecast_cuts
from memory.domain import DomainWords
from memory.taxonomy import node_depth


def task_from_memory(memory, rows: Sequence[tuple[str, str, float, float]], horizon: Horizon, words: DomainWords,
                     summary_tokens: int) -> ShiftTask:
    """``rows``: the log as ``memory.event_log()`` yields it (user, item, time, weight)."""
    items = {row[1] for row in rows}
    inputs = ForecastInputs.from_memory(memory, items, horizon)
    logs = user_logs([(user, item, ts) for user, item, ts, _ in rows], inputs.nodes_of)
    if not logs:
        raise ValueError("the log is empty: ingest events before training an adapter")
    weight_of = {(user, item, ts): weight for user, item, ts, weight in rows}
    weights = {user: [weight_of.get((user, item, float(ts)), 1.0) for item, ts in zip(log.items, log.times.tolist(),
                                                                                       strict=True)]
               for user, log in logs.items()}
    every = sorted({node for nodes in inputs.nodes_of.values() for node in nodes})
    placed = list({nodes for log in logs.values() for nodes in log.nodes})
    depth = claim_depth(placed, sorted({node_depth(node) for node in every}), inputs.named)
    entries = memory.catalog.entries(items)
    context = ReplayContext({item: entry.pairs for item, entry in entries.items()},
                            {item: entry.title for item, entry in entries.items()},
                            {node: topic.label for node, topic in memory.catalog.topics().items()},
                            memory.settings.memory, summary_tokens)
    train, held = split_cuts(forecast_cuts(logs, horizon), horizon)
    return ShiftTask(logs, LevelIndex.of(every, depth), context, horizon, words, train, held, weights,
                     inputs.window_size)
