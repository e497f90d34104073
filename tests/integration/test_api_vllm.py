"""The HTTP API and its OpenAI facade on the real model (vLLM, the packaged SmolLM2), small catalog."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import openai
import pytest

from tests.agent_support import build_service
from tests.serving.test_api import ANA_KEY, KEYED, running_api

pytestmark = pytest.mark.integration


def test_the_openai_facade_streams_an_explained_list_written_on_the_real_model(tmp_path: Path, vllm_llm):
    service = build_service(tmp_path, vllm_llm)
    try:
        with running_api(service, KEYED) as url:
            ready = httpx.get(f"{url}/ready", timeout=30).json()
            client = openai.OpenAI(base_url=f"{url}/v1", api_key=ANA_KEY, timeout=600)
            stream = client.chat.completions.create(
                model="shiftrec", messages=[{"role": "user", "content": "recommend something"}], stream=True)
            text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    finally:
        service.close()
    assert ready["status"] == "ready" and ready["llm_model"] == vllm_llm.model_id
    lines = re.findall(r"^(\d+)\. .+?: .+$", text, re.MULTILINE)
    assert lines == ["1", "2", "3", "4", "5"], text
