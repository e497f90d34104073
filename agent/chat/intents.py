"""What a chat message asks for, decided by a small classifier over sentence embeddings and n-grams.

Measured on sets written apart from everything here (bench/data): hand-written phrase rules
reached 0.52 and would not generalise; softmax regression over MiniLM embeddings reached 0.93 on
the first blind set but 0.79 on a later, more varied one; adding word and character n-grams and
the training files written apart later (``agent/chat/data``: memory edits, self-questions, typos,
groceries) brought that one to 0.96. The LLM is asked only when the classifier is unsure and one
is given; if it fails, the classifier's best guess stands. Training takes seconds and is cached
by the data's hash.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy import sparse
from scipy.special import softmax
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from agent.llm.interface import LLM, LLMError
from agent.llm.prompting import run_prompt
from memory.domain import GENERIC_WORDS, DomainWords

Embed = Callable[[Sequence[str]], np.ndarray]
TRAINING_FILES = ("intent_training.jsonl", "intent_training_more.jsonl",  # each later one written apart
                  "intent_training_extra.jsonl")


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
    """Multinomial logistic regression over two views of a message: its sentence embedding (what it means)
    and TF-IDF of its word and character n-grams (the few words that decide, "undo", "pin", "why", typos
    and all). Measured on a validation set written apart, the embedding alone read 0.79 of the messages
    and both views 0.96 (bench/results/conversation.json)."""

    def __init__(self, embed: Embed, texts: Sequence[str], coef: np.ndarray, intercept: np.ndarray):
        self._embed = embed
        self._words, self._chars = _vectorizers(texts)
        self._coef = coef
        self._intercept = intercept

    @classmethod
    def train(cls, embed: Embed, rows: Sequence[tuple[str, Intent]], *, strength: float = 10.0,
              seed: int = 0) -> IntentClassifier:
        """``strength`` is the inverse L2 penalty (sklearn's C), chosen by 5-fold CV on the training rows."""
        texts = [text for text, _ in rows]
        targets = [INTENTS.index(intent) for _, intent in rows]
        words, chars = _vectorizers(texts)
        features = _features(np.asarray(embed(texts), dtype=np.float32), words, chars, texts)
        model = LogisticRegression(C=strength, max_iter=5000, random_state=seed).fit(features, targets)
        coef = np.zeros((len(INTENTS), features.shape[1]))
        intercept = np.full(len(INTENTS), -30.0)  # an intent without examples is never chosen
        two = len(model.classes_) == 2  # sklearn keeps one row for two classes: p(second) = sigmoid(row)
        coef[model.classes_] = np.vstack([np.zeros_like(model.coef_), model.coef_]) if two else model.coef_
        intercept[model.classes_] = [0.0, model.intercept_[0]] if two else model.intercept_
        return cls(embed, texts, coef, intercept)

    @classmethod
    def cached(cls, embed: Embed, cache_dir: Path) -> IntentClassifier:
        """Train once per training-data version; later starts load the weights (the n-gram vocabularies are
        rebuilt from the training texts, which embeds nothing)."""
        rows = training_rows()
        digest = hashlib.sha256(json.dumps([(t, i.value) for t, i in rows]).encode()).hexdigest()[:16]
        path = cache_dir / f"intent-classifier-{digest}.npz"
        texts = [text for text, _ in rows]
        if path.exists():
            with np.load(path) as saved:
                return cls(embed, texts, saved["coef"], saved["intercept"])
        classifier = cls.train(embed, rows)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.stem + ".tmp.npz")
        np.savez(temporary, coef=classifier._coef, intercept=classifier._intercept)
        temporary.replace(path)
        return classifier

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        features = _features(np.asarray(self._embed(texts), dtype=np.float32), self._words, self._chars, texts)
        return softmax(np.asarray(features @ self._coef.T) + self._intercept, axis=1)

    @functools.lru_cache(maxsize=256)  # noqa: B019 - one classifier per service; a turn asks for a message twice
    def of(self, text: str) -> np.ndarray:
        """The probabilities of one message (the reader and the router both ask for them)."""
        return self.probabilities([text])[0]

    def classify(self, text: str) -> RoutedIntent:
        probabilities = self.of(text)
        best = int(probabilities.argmax())
        return RoutedIntent(INTENTS[best], float(probabilities[best]), "classifier")


def _vectorizers(texts: Sequence[str]) -> tuple[TfidfVectorizer, TfidfVectorizer]:
    """Word 1-2-grams and in-word character 2-5-grams, fitted on the training texts (deterministic)."""
    words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit(texts)
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2).fit(texts)
    return words, chars


def _features(vectors: np.ndarray, words: TfidfVectorizer, chars: TfidfVectorizer, texts: Sequence[str]) -> sparse.csr_matrix:
    return sparse.hstack([sparse.csr_matrix(vectors), words.transform(texts), chars.transform(texts)]).tocsr()


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
