"""SASRec next-item ranker: trained with torch on behaviour logs, saved with its vocabulary.

DESIGN step 5 names it one of the two strongest rankers: the order of what someone just
watched says a lot about what comes next. Training (``agent/rankers/sequential_training.py``) uses
a softmax over the catalog, or over a shared sample of it, at every position: it converges
in far fewer epochs than SASRec's original one-negative BCE. Early stopping keeps the epoch
with the best validation NDCG@10.
A saved model carries its item-id vocabulary, so scores always map to the right items and
a model trained on another catalog is refused instead of silently mis-ranking.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from agent.rankers.sasrec_network import SASRecNetwork

FORMAT = "shiftrec-sequential/1"


class SequentialConfig(BaseModel):
    """SASRec hyperparameters. The defaults suit catalogs of a few thousand items; the
    measured MovieLens choices are in ``agent.rankers.sequential_training.MOVIELENS_CONFIGS``."""

    model_config = ConfigDict(extra="forbid")

    max_len: int = Field(default=100, ge=2, description="Newest items of a history the model reads.")
    hidden: int = Field(default=64, ge=8, description="Embedding and state size.")
    blocks: int = Field(default=2, ge=1, description="Self-attention blocks.")
    heads: int = Field(default=1, ge=1, description="Attention heads per block (must divide hidden).")
    dropout: float = Field(default=0.2, ge=0, lt=1, description="Dropout in embeddings and blocks.")
    negatives: int | None = Field(
        default=None, ge=1, description="Sampled-softmax negatives per batch; None: full softmax over all items."
    )
    learning_rate: float = Field(default=5e-3, gt=0, description="Adam's starting rate, cosine-decayed to 0.")
    weight_decay: float = Field(default=0.0, ge=0)
    batch_size: int = Field(default=64, ge=1, description="Windows per step; smaller means more steps per epoch.")
    epochs: int = Field(default=20, ge=1, description="Most epochs (the learning rate decays over them).")
    patience: int = Field(default=4, ge=1, description="Epochs without a better validation NDCG@10 before stopping.")
    seed: int = Field(default=0, description="Seeds initialisation, dropout and batch order.")
    threads: int = Field(
        default=1,
        ge=1,
        description="torch threads while training (restored afterwards). 2 threads ran 4x slower than 1 "
        "while other processes held the cores (measured), so more is only for an idle machine.",
    )


class VocabularyMismatchError(ValueError):
    """The saved model was trained on different item ids than the caller expects."""


def _check_json_ids(item_ids: Sequence[Hashable]) -> tuple[Hashable, ...]:
    ids = tuple(item_ids)
    bad = next((item for item in ids if not isinstance(item, str | int) or isinstance(item, bool)), None)
    if bad is not None:
        raise TypeError(f"item ids must be str or int to be saved with the model, got {type(bad).__name__}: {bad!r}")
    if len(set(ids)) != len(ids):
        raise ValueError("item ids contain duplicates")
    return ids


def left_pad(histories: Sequence[np.ndarray], max_len: int) -> torch.Tensor:
    """(batch, L) tensor of item indices + 1, newest item last, 0 = padding, L <= max_len."""
    width = max(1, min(max_len, max((len(history) for history in histories), default=1)))
    batch = np.zeros((len(histories), width), dtype=np.int64)
    for row, history in enumerate(histories):
        recent = np.asarray(history, dtype=np.int64)[-width:]
        if len(recent):
            batch[row, width - len(recent) :] = recent + 1
    return torch.from_numpy(batch)


@dataclass(frozen=True)
class EpochReport:
    """What one training epoch achieved, for progress output and early stopping."""

    epoch: int
    train_loss: float
    validation: dict[str, float] | None
    seconds: float
    is_best: bool


class SequentialModel:
    """A trained SASRec network plus the item vocabulary its outputs refer to."""

    def __init__(self, item_ids: Sequence[Hashable], config: SequentialConfig | None = None) -> None:
        self.config = config or SequentialConfig()
        self.item_ids = _check_json_ids(item_ids)
        self._index_of = {item_id: index for index, item_id in enumerate(self.item_ids)}
        c = self.config
        self.network = SASRecNetwork(len(self.item_ids), c.max_len, c.hidden, c.blocks, c.heads, c.dropout)
        self.network.eval()

    @property
    def num_items(self) -> int:
        return len(self.item_ids)

    def indices(self, item_ids: Sequence[Hashable]) -> np.ndarray:
        """Vocabulary indices of the known ids, in order; unknown ids (new catalog items) are skipped."""
        return np.array([self._index_of[item] for item in item_ids if item in self._index_of], dtype=np.int64)

    @torch.no_grad()
    def score_indices(
        self, histories: Sequence[np.ndarray], history_times: Sequence[np.ndarray] | None = None, batch_size: int = 512
    ) -> np.ndarray:
        """(users, items) next-item scores for histories of vocabulary indices, oldest first.

        ``history_times`` is accepted for a signature shared with the other rankers; SASRec
        uses order only. An empty history gets the scores of the learned "start" state.
        """
        del history_times
        self.network.eval()
        rows = []
        for start in range(0, len(histories), batch_size):
            batch = left_pad(histories[start : start + batch_size], self.config.max_len)
            states = self.network(batch)[:, -1, :]
            rows.append(self.network.item_logits(states).numpy())
        return np.concatenate(rows) if rows else np.zeros((0, self.num_items), dtype=np.float32)

    def score(self, history: Sequence[Hashable]) -> np.ndarray:
        """Next-item scores over all items (``item_ids`` order) for one history of ids, oldest first."""
        return self.score_indices([self.indices(history)])[0]

    def top_k(
        self, history: Sequence[Hashable], k: int, exclude: Sequence[Hashable] = ()
    ) -> list[tuple[Hashable, float]]:
        """The k best (item id, score) pairs, never an item from the history or ``exclude``."""
        scores = self.score(history).astype(np.float64)
        scores[self.indices([*history, *exclude])] = -np.inf
        order = np.argsort(-scores, kind="stable")[:k]
        return [(self.item_ids[index], float(scores[index])) for index in order if np.isfinite(scores[index])]

    def save(self, path: Path) -> Path:
        """One file: format tag, JSON config, JSON item ids and the state dict."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "format": FORMAT,
            "config": self.config.model_dump_json(),
            "item_ids": json.dumps(list(self.item_ids)),
            "state_dict": self.network.state_dict(),
        }
        torch.save(payload, path)
        return path

    @classmethod
    def load(cls, path: Path, expected_item_ids: Sequence[Hashable] | None = None) -> SequentialModel:
        """Load a saved model; with ``expected_item_ids``, refuse one trained on other items."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no sequential model at {path}; train one with `shiftrec train-sequential`")
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # torch raises several unrelated types for a foreign file
            raise ValueError(f"{path} is not a ShiftRec sequential model ({type(error).__name__}: {error})") from error
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise ValueError(f"{path} is not a ShiftRec sequential model (expected format {FORMAT!r})")
        item_ids = tuple(json.loads(payload["item_ids"]))
        if expected_item_ids is not None:
            _require_same_vocabulary(tuple(expected_item_ids), item_ids, path)
        model = cls(item_ids, SequentialConfig.model_validate_json(payload["config"]))
        model.network.load_state_dict(payload["state_dict"])
        model.network.eval()
        return model


def _require_same_vocabulary(expected: tuple[Hashable, ...], saved: tuple[Hashable, ...], path: Path) -> None:
    if expected == saved:
        return
    known = set(saved)
    missing = [item for item in expected if item not in known][:5]
    pairs = zip(expected, saved, strict=False)
    position = next((i for i, (want, have) in enumerate(pairs) if want != have), min(len(expected), len(saved)))
    raise VocabularyMismatchError(
        f"{path} was trained on {len(saved)} items but {len(expected)} are expected; the id lists first differ at "
        f"position {position}" + (f" and these expected ids are unknown to it: {missing}" if missing else "")
        + ". Retrain it on this catalog (`shiftrec train-sequential`) or load the matching file."
    )

