"""Shift-role examples from a log: the profiler's summary at a cut in, the next window's mix out.

A cut (agent.forecast.cases.Cut) says how many of the user's events came before it; the
summary is rebuilt from exactly those (replay.py), the options are the level's nodes the user
had touched before the cut (most events first), filled with what everyone did most before
it, and the target is the next window's share of each option. Nothing after the cut reaches
the prompt: the truth window is only ever the answer.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from agent.finetune.replay import ReplayContext, summaries_at
from agent.forecast.cases import Cut, UserLog
from agent.forecast.horizon import Horizon
from agent.forecast.population import LevelIndex, LevelLog, Population
from agent.llm.interface import Message
from memory.domain import DomainWords
from prompts.loader import load_prompt

SHIFT_PROMPT, SHIFT_PROMPT_VERSION = "shift", 1
LETTERS = tuple(string.ascii_uppercase[:20])  # single tokens; 20 is vLLM's top-logprobs ceiling


@dataclass(frozen=True)
class ShiftExample:
    user: str
    as_of: float
    messages: tuple[Message, ...]
    options: tuple[str, ...]  # node ids, in letter order
    option_positions: tuple[int, ...]  # their places in the level's index
    target: np.ndarray  # the next window's share of each option (sums to at most 1)
    truth: np.ndarray  # the next window's mix over the whole level
    prior: np.ndarray  # everyone's long-run mix at the cut (what a forecast is smoothed towards)

    @property
    def covered(self) -> float:
        """How much of the next window the options can name."""
        return float(self.target.sum())


def node_names(level: LevelIndex, labels: Mapping[str, str]) -> dict[str, str]:
    """What an option reads: its label, with its parent's where the tree is deeper than the topics."""
    def name(node: str) -> str:
        parent = node.rsplit("/", 1)[0] if "/" in node else None
        own = labels.get(node, node)
        return f"{labels.get(parent, parent)} / {own}" if parent else own
    return {node: name(node) for node in level.nodes}


def options_at(log: UserLog, history: int, level: LevelIndex, population: Population,
               position: Mapping[str, int]) -> tuple[str, ...]:
    """The level's nodes the user touched before the cut (most first, ties by id), then everyone's favourites."""
    counts: dict[str, int] = {}
    for nodes in log.nodes[:history]:
        for node in nodes:
            if node in position:
                counts[node] = counts.get(node, 0) + 1
    return options_from_counts(counts, level, population)


def options_from_counts(counts: Mapping[str, int], level: LevelIndex, population: Population) -> tuple[str, ...]:
    """Up to 20 options: the user's nodes at ``level`` by events (ties by id), then everyone's long-run favourites."""
    position = level.position
    own = sorted((node for node in counts if node in position and counts[node] > 0),
                 key=lambda node: (-counts[node], node))
    taken = set(own)
    rest = [level.nodes[i] for i in np.argsort(-population.long_run, kind="stable") if level.nodes[i] not in taken]
    return tuple([*own, *rest][: len(LETTERS)])


def shift_messages(summary: str, options: Sequence[str], names: Mapping[str, str], horizon: Horizon,
                   domain: DomainWords) -> tuple[Message, ...]:
    window = f"{horizon.size} days" if horizon.unit == "days" else f"{horizon.size} {domain.plural}"
    rendered = load_prompt(SHIFT_PROMPT, SHIFT_PROMPT_VERSION).render(
        summary=summary, horizon=window, **domain.prompt_variables(),
        options=[{"label": letter, "name": names[node]} for letter, node in zip(LETTERS, options, strict=False)])
    return Message("system", rendered.system), Message("user", rendered.user)


def build_examples(logs: Mapping[str, UserLog], cuts: Iterable[Cut], level: LevelIndex, level_log: LevelLog,
                   context: ReplayContext, horizon: Horizon, domain: DomainWords,
                   weights: Mapping[str, Sequence[float]] | None = None) -> list[ShiftExample]:
    """One example per cut whose next window has a node at ``level`` (``weights``: per user, each event's)."""
    names, position = node_names(level, context.labels), level.position
    populations: dict[float, Population] = {}
    by_user: dict[str, list[Cut]] = {}
    for cut in cuts:
        by_user.setdefault(cut.user, []).append(cut)
    examples = []
    for user in sorted(by_user):
        log, ordered = logs[user], sorted(by_user[user], key=lambda cut: (cut.history, cut.as_of))
        user_weights = weights[user] if weights else [1.0] * len(log.times)
        texts = summaries_at(context, user, log.times, log.items, user_weights,
                             [(cut.history, cut.as_of) for cut in ordered])
        for cut, summary in zip(ordered, texts, strict=True):
            truth = _mix(log.nodes[cut.history:cut.future], position)
            if not truth.any():
                continue
            population = populations.get(cut.as_of)
            if population is None:
                population = populations[cut.as_of] = Population.at(level_log, len(level), cut.as_of,
                                                                     horizon.population_window_s)
            options = options_at(log, cut.history, level, population, position)
            target = np.array([truth[position[node]] for node in options])
            examples.append(ShiftExample(user, cut.as_of, shift_messages(summary, options, names, horizon, domain),
                                         options, tuple(position[node] for node in options), target, truth,
                                         population.long_run))
    return examples


def _mix(window: Sequence[frozenset[str]], position: Mapping[str, int]) -> np.ndarray:
    counts = np.zeros(len(position))
    for nodes in window:
        for node in nodes:
            at = position.get(node)
            if at is not None:
                counts[at] += 1
    return counts / counts.sum() if counts.any() else counts
