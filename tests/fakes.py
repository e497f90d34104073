"""Deterministic stand-ins behind our own interfaces, for fast unit tests."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

_WORD = re.compile(r"[a-z']+")


def bag_of_words_embed(texts: Sequence[str], dim: int = 128) -> np.ndarray:
    """Hashed bag of words, L2-normalised: similar wording gives similar vectors."""
    vectors = np.zeros((len(texts), dim), dtype=np.float32)
    for row, text in enumerate(texts):
        for word in _WORD.findall(text.lower()):
            bucket = int(hashlib.md5(word.encode()).hexdigest(), 16) % dim
            vectors[row, bucket] += 1.0
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-9)
