"""Adapters on disk: published whole with a CURRENT pointer, older versions pruned, and refused with
what to run when the base model or the log it learned from is not the one configured now."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from agent.finetune.adapters import AdapterManifest, AdapterRefused, AdapterStore, base_weights_id, served_name
from serving.adapters import lora_flags


def manifest(version: str, **changes) -> AdapterManifest:
    fields = dict(role="shift", version=version, served_name=served_name("shift"), base_model="smollm2",
                  base_weights="w1", log_fingerprint="log1", prompt="shift/v1", level_depth=0, horizon="10e",
                  smoothing=0.3, examples=8, distinct_examples=8, epochs=1.0, steps=2, train_s=10.0, device="cpu",
                  examples_per_minute=48.0, final_loss=2.5, losses=[3.0, 2.5], trained_at=datetime.now(timezone.utc))
    return AdapterManifest(**{**fields, **changes})


def publish(store: AdapterStore, version: str, **changes) -> Path:
    staging = store.staging("shift", version)
    (staging / "adapter_config.json").write_text("{}")
    return store.publish(staging, manifest(version, **changes))


def test_the_current_adapter_is_the_latest_published(tmp_path: Path):
    store = AdapterStore(tmp_path)
    assert store.current("shift") is None
    for version in ("v1", "v2", "v3"):
        publish(store, version)
    folder, current = store.current("shift")
    assert current.version == "v3" and folder.name == "v3" and (folder / "adapter_config.json").is_file()
    assert sorted(p.name for p in (tmp_path / "shift").iterdir() if p.is_dir()) == ["v2", "v3"]
    assert json.loads((folder / "manifest.json").read_text())["served_name"] == "shiftrec-shift-lora"


def test_an_adapter_of_another_base_model_or_log_is_refused(tmp_path: Path):
    store = AdapterStore(tmp_path)
    with pytest.raises(AdapterRefused, match="train one with `shiftrec train --llm shift`"):
        store.usable("shift", "smollm2", "w1", "log1")
    publish(store, "v1")
    assert store.usable("shift", "smollm2", "w1", "log1")[1].version == "v1"
    with pytest.raises(AdapterRefused, match="adapts smollm2 .w1., not the configured qwen"):
        store.usable("shift", "qwen", "w1", "log1")
    with pytest.raises(AdapterRefused, match="not the configured smollm2 .w2."):
        store.usable("shift", "smollm2", "w2", "log1")
    with pytest.raises(AdapterRefused, match="learned from log log1, but the behaviour models serve log log2"):
        store.usable("shift", "smollm2", "w1", "log2")


def test_the_base_weights_id_changes_with_the_model_files(tmp_path: Path):
    (tmp_path / "config.json").write_text('{"layers": 30}')
    (tmp_path / "model.safetensors").write_bytes(b"x" * 10)
    first = base_weights_id(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"x" * 11)
    assert base_weights_id(tmp_path) != first


def test_vllm_serves_adapters_by_name_with_lora_on():
    assert lora_flags({}) == []
    flags = lora_flags({"shiftrec-shift-lora": Path("/a/v1")})
    assert flags[:1] == ["--enable-lora"] and flags[-1] == "shiftrec-shift-lora=/a/v1"
    assert flags[flags.index("--max-lora-rank") + 1] == "8"


def test_a_retrained_adapter_has_no_role_card_until_it_is_measured():
    from types import SimpleNamespace

    from agent.roles.card import card_key, measured_model

    first, second = (SimpleNamespace(manifest=manifest(version)) for version in ("v1", "v2"))
    assert measured_model("smollm2", None) == "smollm2"
    assert measured_model("smollm2", first) == "smollm2+shiftrec-shift-lora@v1"
    keys = {card_key(measured_model("smollm2", adapter), "catalog") for adapter in (None, first, second)}
    assert len(keys) == 3
