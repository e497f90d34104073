"""What a chat message asks for, decided by a small classifier over sentence embeddings.

Measured on a blind set written apart from everything here (bench/data): hand-written
phrase rules reached 0.52 and would not generalise; softmax regression over MiniLM
embeddings, trained on ``agent/chat/data/intent_training.jsonl``, reached 0.93; 420 more messages written
apart later (``intent_training_more.jsonl``) widen it to memory edits and self-questions. The LLM is
asked only when the classifier is unsure and one is given; if it fails, the classifier's
best guess stands. Training takes a few seconds and is cached by the data's hash.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from agent.llm.interface import LLM, LLMError
from agent.llm.prompting import run_prompt
from memory.domain import GENERIC_WORDS, DomainWords

Embed = Callable[[Sequence[str]], np.ndarray]
TRAINING_FILES = ("intent_training.jsonl", "intent_training_more.jsonl")  # the second written apart, later


class Intent(StrEnum):
    RECOMMEND = "recommend"
    REFINE = "refine"
    WHY = "why"
    FEEDBACK = "feedback"
    PROFILE = "profile"
    EDIT = "edit"  # changes what the memory holds: a phase over, not mine, forget, pin, undo
    OTHER = "other"


INTENTS = list(Intent)


class IntentOutput(BaseModel):
    """The LLM's classification: one of the intent names, nothing else."""

    model_config = ConfigDict(extra="forbid")

    intent: Intent = Field(description="What the message asks for.")


@dataclass(frozen=True)
class RoutedIntent:
    intent: Intent
    confidence: float
    source: str  # "classifier" or "llm"


def training_rows() -> list[tuple[str, Intent]]:
    rows = []
    for name in TRAINING_FILES:
        text = (resources.files("agent.chat") / "data" / name).read_text(encoding="utf-8")
        rows += [json.loads(line) for line in text.splitlines() if line.strip()]
    return [(row["text"], Intent(row["intent"])) for row in rows]


class IntentClassifier:
    """Softmax regression on normalised sentence embeddings (hyper-parameters from 5-fold CV)."""

    def __init__(self, embed: Embed, weights: torch.Tensor, bias: torch.Tensor):
        self._embed = embed
        self._weights = weights
        self._bias = bias

    @classmethod
    def train(cls, embed: Embed, rows: Sequence[tuple[str, Intent]], *, epochs: int = 300,
              weight_decay: float = 1e-3, seed: int = 0) -> IntentClassifier:
        features = torch.tensor(np.asarray(embed([text for text, _ in rows]), dtype=np.float32))
        targets = torch.tensor([INTENTS.index(intent) for _, intent in rows])
        generator = torch.Generator().manual_seed(seed)
        layer = torch.nn.Linear(features.shape[1], len(INTENTS))
        with torch.no_grad():
            layer.weight.copy_(torch.randn(layer.weight.shape, generator=generator) * 0.01)
            layer.bias.zero_()
        optimiser = torch.optim.Adam(layer.parameters(), lr=0.05, weight_decay=weight_decay)
        for _ in range(epochs):
            optimiser.zero_grad()
            torch.nn.functional.cross_entropy(layer(features), targets).backward()
            optimiser.step()
        return cls(embed, layer.weight.detach().clone(), layer.bias.detach().clone())

    @classmethod
    def cached(cls, embed: Embed, cache_dir: Path) -> IntentClassifier:
        """Train once per training-data version; later starts load the weights."""
        rows = training_rows()
        digest = hashlib.sha256(json.dumps([(t, i.value) for t, i in rows]).encode()).hexdigest()[:16]
        path = cache_dir / f"intent-classifier-{digest}.pt"
        if path.exists():
            state = torch.load(path, weights_only=True)
            return cls(embed, state["weights"], state["bias"])
        classifier = cls.train(embed, rows)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        torch.save({"weights": classifier._weights, "bias": classifier._bias}, temporary)
        temporary.replace(path)
        return classifier

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        features = torch.tensor(np.asarray(self._embed(list(texts)), dtype=np.float32))
        with torch.no_grad():
            return torch.softmax(features @ self._weights.T + self._bias, dim=-1).numpy()

    def classify(self, text: str) -> RoutedIntent:
        probabilities = self.probabilities([text])[0]
        best = int(probabilities.argmax())
        return RoutedIntent(INTENTS[best], float(probabilities[best]), "classifier")


class IntentRouter:
    """The classifier decides; below ``llm_below`` confidence the LLM (if any, and only where ``earned``
    says it earned the intent role) is asked."""

    def __init__(self, classifier: IntentClassifier, llm: LLM | None = None, llm_below: float = 0.0,
                 domain: DomainWords = GENERIC_WORDS, earned: Callable[[], bool] = lambda: True):
        self._classifier = classifier
        self._llm = llm
        self._llm_below = llm_below
        self._domain = domain
        self._earned = earned

    @property
    def classifier(self) -> IntentClassifier:
        return self._classifier

    def route(self, text: str) -> RoutedIntent:
        guess = self._classifier.classify(text)
        if self._llm is None or guess.confidence >= self._llm_below or not self._earned():
            return guess
        answer = llm_intent(self._llm, text, self._domain)
        return guess if answer is None else RoutedIntent(answer, guess.confidence, "llm")


def llm_intent(llm: LLM, text: str, domain: DomainWords = GENERIC_WORDS) -> Intent | None:
    """The LLM's reading of the message (None when it fails)."""
    try:
        return run_prompt(llm, "intent", {"message": text, **domain.prompt_variables()}).value.intent
    except LLMError:
        return None
