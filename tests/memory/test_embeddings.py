"""The MiniLM embedder: bf16 only where the CPU has it, bulk threads restored, vectors unchanged."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from memory.embeddings import MiniLMEmbedder, cpu_has_bf16


def test_cpu_has_bf16_reads_the_cpu_flags(tmp_path):
    with_bf16 = tmp_path / "with"
    with_bf16.write_text("flags\t\t: fpu sse avx512f avx512_bf16 avx512vl\n")
    without = tmp_path / "without"
    without.write_text("flags\t\t: fpu sse avx2 avx512f\n")  # 'avx512f' must not pass for bf16
    assert cpu_has_bf16(with_bf16) is True
    assert cpu_has_bf16(without) is False
    assert cpu_has_bf16(tmp_path / "missing") is False


def test_explicit_precision_wins_over_the_cpu():
    assert MiniLMEmbedder(precision="fp32").precision == "fp32"
    assert MiniLMEmbedder(precision="bf16").precision == "bf16"
    assert MiniLMEmbedder(precision="auto").precision == ("bf16" if cpu_has_bf16() else "fp32")


@pytest.fixture(scope="module")
def texts():
    return ["Heat (1995). Action; Crime", "Fluid Milk White Only (Private brand, 1 GA). Grocery", "Toy Story (1995)"]


def test_bf16_vectors_match_fp32_and_stay_unit_length(texts):
    full = MiniLMEmbedder(threads=1, precision="fp32").embed(texts)
    fast = MiniLMEmbedder(threads=1, precision="bf16").embed(texts)
    assert full.dtype == fast.dtype == np.float32 and fast.shape == (3, 384)
    assert np.allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-3)
    assert float(np.min(np.sum(full * fast, axis=1))) > 0.999
    assert np.argmax(fast @ full[1]) == 1  # the milk stays nearest to the milk


def test_bulk_uses_the_bulk_threads_and_restores_the_online_count(texts):
    embedder = MiniLMEmbedder(threads=1, bulk_threads=2, precision="fp32")
    with embedder.bulk():
        assert torch.get_num_threads() == 2
        embedder.embed(texts)
    assert torch.get_num_threads() == 1
    with pytest.raises(RuntimeError), embedder.bulk():
        raise RuntimeError("a failed add")
    assert torch.get_num_threads() == 1
