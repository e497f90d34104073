"""A LoRA shift adapter trained for a few steps on a small log, published, served by a real vLLM
beside the base model, answering the role's request by its own name, and swapped for a newer
version while the server runs."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest

from agent.finetune.adapters import AdapterStore
from agent.finetune.examples import LETTERS
from agent.finetune.letter_forecast import score_options
from agent.finetune.lora_training import LoraConfig
from agent.finetune.shift_adapter import LOSS_PLOT, train_shift_adapter
from agent.llm.vllm_client import VllmLLM
from serving.adapters import load_into_running
from serving.llm_server import EmbeddedLLMServer
from tests.agent.finetune.support import shift_task

pytestmark = pytest.mark.integration
TINY = LoraConfig(budget_s=120, accumulate=2, seed=0)


def _train(task, model_dir: Path, store: AdapterStore, seed: int):
    config = LoraConfig(budget_s=TINY.budget_s, accumulate=TINY.accumulate, seed=seed)
    return train_shift_adapter(task, model_dir, "smollm2-135m-instruct", store, "log-fingerprint", config,
                               examples=4, held=3, progress=False)


def test_a_trained_adapter_is_served_by_name_and_swapped_while_running(tmp_path: Path, llm_model_dir: Path,
                                                                         embedded_settings_factory):
    task, cuts = shift_task(users=30)
    store = AdapterStore(tmp_path / "adapters")
    folder, manifest = _train(task, llm_model_dir, store, seed=0)
    assert manifest.examples == 4 and manifest.steps == 2 and len(manifest.losses) == 2
    assert (folder / "adapter_config.json").is_file() and (folder / LOSS_PLOT).stat().st_size > 1000
    assert set(manifest.held_out) >= {"lora", "base", "standin"} and manifest.held_out["cases"] == 3
    settings = embedded_settings_factory(tmp_path / "data", llm_model_dir, startup_timeout_s=600)
    example = task.examples(task.held_cuts)[0]
    letters = LETTERS[: len(example.options)]
    with EmbeddedLLMServer(settings, adapters={manifest.served_name: folder}) as server:
        served = httpx.get(f"{server.base_url}/models", timeout=30).json()["data"]
        assert {m["id"] for m in served} >= {manifest.served_name, settings.llm.model}
        base = VllmLLM(server.base_url, settings.llm.model, timeout_s=600, context_tokens=settings.llm.context_tokens)
        adapter = base.for_model(manifest.served_name)
        through_adapter = adapter.label_logprobs(example.messages, letters)
        through_base = base.label_logprobs(example.messages, letters)
        assert set(through_adapter) == set(letters) and np.isfinite(list(through_adapter.values())).all()
        assert through_adapter != through_base  # the adapter's weights change the answer
        (probabilities,) = score_options(adapter.label_logprobs, [example])
        assert probabilities.sum() == pytest.approx(1.0)
        newer, newer_manifest = _train(task, llm_model_dir, store, seed=1)
        said = load_into_running(server.base_url, newer_manifest.served_name, newer)
        assert said.startswith("the LLM server at") and "now serves shiftrec-shift-lora" in said, said
        assert store.current("shift")[1].version == newer_manifest.version
        assert adapter.label_logprobs(example.messages, letters) != through_adapter
