"""Classifier stand-ins for reading tests."""

from __future__ import annotations

import numpy as np

from agent.chat.intents import INTENTS, Intent, RoutedIntent


class SureRouter:
    """A classifier stand-in sure of one intent (0.9), every other at an even share of the rest."""

    def __init__(self, intent: Intent):
        self.classifier = self
        self._intent = intent

    def probabilities(self, texts):
        rest = 0.1 / (len(INTENTS) - 1)
        return np.array([[0.9 if intent == self._intent else rest for intent in INTENTS] for _ in texts])

    def of(self, text: str):
        return self.probabilities([text])[0]

    def route(self, text: str) -> RoutedIntent:
        return RoutedIntent(self._intent, 0.9, "classifier")
