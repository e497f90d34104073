"""Settings come from the environment only when built; tokens are counted offline."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from memory.tokens import count_tokens, truncate_to_tokens
from serving.settings import load_settings


def test_environment_overrides_nested_fields(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("SHIFTREC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SHIFTREC_LLM__URL", "http://gpu-host:8000/v1")
    monkeypatch.setenv("SHIFTREC_MEMORY__SESSION_GAP_S", "900")
    settings = load_settings()
    assert settings.data_dir == tmp_path
    assert settings.chroma_path == tmp_path / "chroma"
    assert settings.llm.url == "http://gpu-host:8000/v1"
    assert settings.memory.session_gap_s == 900


def test_bad_values_are_rejected_with_the_field_name(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SHIFTREC_SERVER__PORT", "99999")
    with pytest.raises(ValidationError, match="port"):
        load_settings()


def test_model_dir_defaults_under_cache(tmp_path: Path):
    settings = load_settings(cache_dir=tmp_path)
    assert settings.model_dir == tmp_path / "models" / "smollm2-135m-instruct"


def test_token_counting_is_offline_and_exact():
    assert count_tokens("hello world") == 2
    assert count_tokens("<|endoftext|>") > 1, "special markers in user text are plain text"


def test_truncation_respects_budget():
    text = "interest shift " * 100
    cut = truncate_to_tokens(text, 10)
    assert count_tokens(cut) <= 10 and text.startswith(cut)
    assert truncate_to_tokens("short", 10) == "short"


def test_a_kv_block_the_cpu_attention_cannot_take_is_refused_at_load():
    from pydantic import ValidationError

    from serving.settings import Settings

    with pytest.raises(ValidationError, match="multiple of 32"):
        Settings(server={"block_size": 16})


def test_the_rating_scale_comes_from_the_environment_and_must_be_ordered(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SHIFTREC_MEMORY__RATING_SCALE", "[0, 10]")
    assert load_settings().memory_config.memory.rating_scale == (0.0, 10.0)
    monkeypatch.setenv("SHIFTREC_MEMORY__RATING_SCALE", "[5, 1]")
    with pytest.raises(ValidationError, match=r"memory.rating_scale[\s\S]*lowest first, e.g. \[1, 5\]"):
        load_settings()
