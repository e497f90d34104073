"""The real embedded vLLM: it serves the converted model, its structured outputs hold, and it fails clearly."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from agent.llm.prompting import PromptResult, run_prompt
from bench.llm_bench import RerankCase, rerank_cases
from serving.llm_server import EmbeddedLLMServer, LLMServerError
from serving.model_convert import chat_template, model_problems

pytestmark = pytest.mark.integration

RERANK_CALLS = 20


def test_converted_model_is_complete_and_keeps_the_chatml_template(llm_model_dir):
    assert model_problems(llm_model_dir) == []
    template = chat_template(llm_model_dir)
    assert "<|im_start|>" in template and "add_generation_prompt" in template
    assert "quantization_config" not in json.loads((llm_model_dir / "config.json").read_text())


def test_server_is_healthy_and_serves_the_configured_name(vllm_server):
    assert vllm_server.running and vllm_server.startup_s > 0
    assert vllm_server.log_path.read_text().strip()  # vLLM's own output lands in the log
    models = httpx.get(f"{vllm_server.base_url}/models", timeout=10).json()
    assert [m["id"] for m in models["data"]] == [vllm_server.settings.llm.model]


def test_rerank_answers_are_valid_on_the_first_attempt_and_stay_inside_the_allowed_ids(vllm_llm, record_property):
    cases = rerank_cases(RERANK_CALLS, seed=7)

    def call(case: RerankCase) -> PromptResult:
        return run_prompt(vllm_llm, "rerank", case.variables, choices=case.choices)

    with ThreadPoolExecutor(8) as pool:  # vLLM batches them: 3x the throughput of one at a time
        results = list(pool.map(call, cases))

    first_attempt_valid = sum(result.generation.attempts == 1 for result in results)
    record_property("rerank_first_attempt_valid", f"{first_attempt_valid}/{RERANK_CALLS}")
    print(f"rerank valid on the first attempt: {first_attempt_valid}/{RERANK_CALLS}")
    assert first_attempt_valid == RERANK_CALLS
    for case, result in zip(cases, results, strict=True):
        assert (result.prompt_name, result.model_id) == ("rerank", vllm_llm.model_id)
        assert result.value.items
        for item in result.value.items:
            assert item.item_id in case.choices["candidates"]
            assert set(item.evidence) <= set(case.choices["events"])
            assert item.interest in case.choices["interests"]
    # the cases differ, so the answers do too
    assert len({tuple(item.item_id for item in r.value.items) for r in results}) > 1


def test_broken_model_config_fails_start_up_with_vllms_reason(tmp_path, embedded_settings_factory):
    model_dir = tmp_path / "broken-model"
    model_dir.mkdir()
    (model_dir / "config.json").write_text('{"architectures": ["LlamaForCausalLM"],')  # cut short
    settings = embedded_settings_factory(tmp_path / "data", model_dir, startup_timeout_s=120)
    server = EmbeddedLLMServer(settings, stop_grace_s=5)
    with pytest.raises(LLMServerError) as caught:
        server.start()
    message = str(caught.value)
    assert message.startswith("vLLM exited with code 1 while starting; last lines of")
    assert str(server.log_path) in message
    assert "is not a valid JSON file" in message  # vLLM's own words, from the log tail
    assert len(message.splitlines()) > 5
    assert not server.running
