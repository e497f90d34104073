"""The shift adapter at serving time: the live memory's summary (at the adapter's budget) and the
user's options in, a distribution over the forecast's claim level out, blended with everyone's
mix by the weight chosen when it was trained. It serves only where its role card shows it beating
the learned forecast (Role.SHIFT_FORECAST); a failed request returns None and the learned
forecast answers, so a person never waits on or sees a broken adapter.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from agent.finetune.adapters import AdapterManifest
from agent.finetune.examples import LETTERS, node_names, options_from_counts, shift_messages
from agent.finetune.letter_forecast import option_probabilities, spread
from agent.forecast.horizon import Horizon
from agent.forecast.population import LevelIndex, Population
from agent.llm.interface import LLM, LLMError
from memory.domain import DomainWords
from memory.history_view import HistoryView

log = logging.getLogger(__name__)


class AdapterShift:
    def __init__(self, llm: LLM, manifest: AdapterManifest, summary: Callable[[str], str],
                 labels: Callable[[], dict[str, str]], horizon: Horizon, domain: DomainWords):
        self.llm = llm  # requests name the adapter (its served name)
        self.manifest = manifest
        self._summary = summary
        self._labels = labels
        self._horizon = horizon
        self._domain = domain
        self.failures = 0

    @property
    def made_by(self) -> str:
        return f"forecast by the LoRA adapter {self.manifest.served_name} ({self.manifest.version})"

    def applies_to(self, level: LevelIndex) -> bool:
        return level.depth == self.manifest.level_depth

    def distribution(self, view: HistoryView, level: LevelIndex, population: Population) -> np.ndarray | None:
        """The adapter's forecast at ``level`` for ``view``'s user, or None when it could not answer."""
        options = options_from_counts(view.counts, level, population)
        messages = shift_messages(self._summary(view.user), options, node_names(level, self._labels()),
                                  self._horizon, self._domain)
        try:
            logprobs = self.llm.label_logprobs(messages, LETTERS[: len(options)])
        except LLMError as error:
            self.failures += 1
            log.warning("the shift adapter did not answer (%s): the learned forecast serves", error)
            return None
        position = level.position
        return spread(option_probabilities(logprobs, len(options)), [position[node] for node in options],
                      population.long_run, self.manifest.smoothing)
