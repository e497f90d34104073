"""The embedded vLLM server and model preparation, without starting vLLM: checks, command line, errors."""

from __future__ import annotations

import json
import os
import socket
import stat
import sys
import time
from pathlib import Path

import pytest

from agent.llm.interface import LLMUnavailableError, Message
from agent.llm.outputs import RerankOutput
from agent.llm.vllm_client import VllmLLM
from memory.embeddings import cpu_has_bf16
from serving.llm_server import EmbeddedLLMServer, LLMServerError, llm_base_url, port_in_use, vllm_command, vllm_env
from serving.model_convert import ModelPrepareError, chat_template, ensure_model, model_problems
from serving.settings import Settings, load_settings


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _complete_model(folder: Path, template_in_config: bool = False) -> Path:
    """A folder with every file a converted model has (tiny placeholders, no weights)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"]}))
    (folder / "model.safetensors").write_bytes(b"\0")
    (folder / "tokenizer.json").write_text("{}")
    template = "{% for m in messages %}<|im_start|>{{ m.role }}{% endfor %}"
    if template_in_config:
        (folder / "tokenizer_config.json").write_text(json.dumps({"chat_template": template}))
    else:
        (folder / "chat_template.jinja").write_text(template)
    return folder


def _settings(tmp_path: Path, **server: object) -> Settings:
    model_dir = server.pop("model_dir") if "model_dir" in server else _complete_model(tmp_path / "model")
    fields = {"python": Path(sys.executable), "model_dir": model_dir, "port": _free_port(), **server}
    return load_settings(data_dir=tmp_path / "data", cache_dir=tmp_path / "cache", server=fields)


def _fake_python(tmp_path: Path, body: str) -> Path:
    """An executable standing in for the venv's python: lets us test waiting and stopping in a second."""
    script = tmp_path / "bin" / "python"
    script.parent.mkdir()
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def _alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_command_line_carries_model_port_name_and_structured_outputs(tmp_path):
    settings = _settings(tmp_path, enforce_eager=True)
    command = vllm_command(settings, settings.model_dir)

    assert command[:3] == [sys.executable, "-m", "vllm.entrypoints.launchers.api_server.entry"]
    flags = dict(zip(command[3::2], command[4::2], strict=False))
    assert flags["--model"] == str(settings.model_dir)
    assert flags["--host"] == "127.0.0.1"
    assert flags["--port"] == str(settings.server.port)
    assert flags["--served-model-name"] == settings.llm.model
    assert flags["--max-model-len"] == str(settings.llm.context_tokens)
    assert flags["--dtype"] == ("bfloat16" if cpu_has_bf16() else "float32")  # the CPU decides by default
    assert json.loads(flags["--structured-outputs-config"]) == {"backend": "xgrammar", "disable_any_whitespace": True}
    assert command[-1] == "--enforce-eager"


def test_cpu_auto_dtype_follows_the_cpu_flags(tmp_path):
    with_bf16 = tmp_path / "bf16"
    with_bf16.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 avx512_vnni\n")
    avx2_only = tmp_path / "avx2"
    avx2_only.write_text("processor\t: 0\nflags\t\t: fpu avx2 fma\n")
    assert cpu_has_bf16(with_bf16) and not cpu_has_bf16(avx2_only)
    assert not cpu_has_bf16(tmp_path / "missing")
    assert _settings(tmp_path).server.model_copy(update={"dtype": "float32"}).resolved_dtype == "float32"


def test_enforce_eager_off_leaves_the_flag_out(tmp_path):
    settings = _settings(tmp_path, enforce_eager=False)
    assert "--enforce-eager" not in vllm_command(settings, settings.model_dir)


def test_extra_args_come_last_as_given(tmp_path):
    settings = _settings(tmp_path, extra_args=["--max-num-seqs", "64"])
    assert vllm_command(settings, settings.model_dir)[-2:] == ["--max-num-seqs", "64"]
    assert "--max-num-seqs" not in vllm_command(_settings(tmp_path), settings.model_dir)


def test_all_cores_stops_reserving_a_core_for_the_servers_own_loop(tmp_path):
    assert "VLLM_CPU_NUM_OF_RESERVED_CPU" not in vllm_env(_settings(tmp_path))
    env = vllm_env(_settings(tmp_path, all_cores=True))
    assert env["VLLM_CPU_NUM_OF_RESERVED_CPU"] == "0" and int(env["GOMP_SPINCOUNT"]) > 0


def test_child_environment_is_offline_with_the_configured_kv_cache(tmp_path):
    env = vllm_env(_settings(tmp_path, kv_cache_gb=3))
    assert env["HF_HUB_OFFLINE"] == "1"
    assert env["VLLM_CPU_KVCACHE_SPACE"] == "3"
    assert "VLLM_CPU_NUM_OF_RESERVED_CPU" not in env
    assert env["VLLM_ENABLE_V1_MULTIPROCESSING"] == "1"  # engine in its own process: no GIL shared with the server


def test_engine_can_run_inside_the_server_process(tmp_path):
    env = vllm_env(_settings(tmp_path, single_process=True))
    assert env["VLLM_ENABLE_V1_MULTIPROCESSING"] == "0"


def test_base_url_prefers_a_configured_remote_server(tmp_path):
    settings = _settings(tmp_path, port=8765)
    assert llm_base_url(settings) == "http://127.0.0.1:8765/v1"
    assert EmbeddedLLMServer(settings).base_url == "http://127.0.0.1:8765/v1"
    remote = settings.model_copy(update={"llm": settings.llm.model_copy(update={"url": "http://gpu-host:8000/v1/"})})
    assert llm_base_url(remote) == "http://gpu-host:8000/v1"


def test_missing_venv_python_says_run_make_setup(tmp_path):
    server = EmbeddedLLMServer(_settings(tmp_path, python=tmp_path / "no-venv" / "bin" / "python"))
    with pytest.raises(LLMServerError, match=r"python is missing at .*no-venv.*run `make setup`"):
        server.start()
    assert server.pid is None


def test_model_folder_without_config_says_prepare_model(tmp_path):
    empty = tmp_path / "empty-model"
    empty.mkdir()
    server = EmbeddedLLMServer(_settings(tmp_path, model_dir=empty))
    with pytest.raises(LLMServerError, match=r"no model at .*empty-model \(config.json missing\).*prepare-model"):
        server.start()


def test_port_in_use_is_refused_before_spawning(tmp_path):
    settings = _settings(tmp_path)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", settings.server.port))
        holder.listen()
        assert port_in_use("127.0.0.1", settings.server.port)
        with pytest.raises(LLMServerError, match=rf"port {settings.server.port} .* already in use.*SERVER__PORT"):
            EmbeddedLLMServer(settings).start()
    assert not port_in_use("127.0.0.1", settings.server.port)
    assert not (settings.data_dir / "logs" / "vllm.log").exists()


def test_process_that_exits_during_start_up_is_reported_with_its_log_tail(tmp_path):
    # the app venv's python has no vllm: a real process that dies at once
    server = EmbeddedLLMServer(_settings(tmp_path))
    with pytest.raises(LLMServerError, match="exited with code 1 while starting") as caught:
        server.start()
    assert "No module named 'vllm'" in str(caught.value)
    assert "No module named 'vllm'" in server.log_path.read_text()
    assert not server.running


def test_start_up_timeout_stops_the_whole_group_even_when_sigterm_is_ignored(tmp_path):
    body = "trap '' TERM\necho loading weights\nsleep 60 &\nwait"
    settings = _settings(tmp_path, python=_fake_python(tmp_path, body), startup_timeout_s=1.0)
    server = EmbeddedLLMServer(settings, stop_grace_s=0.5)
    started = time.monotonic()
    with pytest.raises(LLMServerError, match=r"did not become healthy within 1 s") as caught:
        server.start()
    assert time.monotonic() - started < 10
    assert "loading weights" in str(caught.value)
    assert not _alive(server.pid)


def test_context_manager_stops_the_server_when_the_body_raises(tmp_path):
    # a stand-in that serves /health so start() succeeds; the real vLLM is covered by the integration tests
    settings = _settings(tmp_path)
    health = "from http.server import *\n" \
        "class H(BaseHTTPRequestHandler):\n" \
        "    def do_GET(self): self.send_response(200); self.end_headers()\n" \
        f"HTTPServer(('127.0.0.1', {settings.server.port}), H).serve_forever()"  # fmt: skip
    script = tmp_path / "health.py"
    script.write_text(health)
    fake = _fake_python(tmp_path, f'exec {sys.executable} {script}')
    settings = settings.model_copy(update={"server": settings.server.model_copy(update={"python": fake})})
    with pytest.raises(RuntimeError, match="body failed"), EmbeddedLLMServer(settings, stop_grace_s=2) as server:
        assert server.running and server.startup_s > 0
        pid = server.pid
        raise RuntimeError("body failed")
    assert not _alive(pid)
    assert not port_in_use("127.0.0.1", settings.server.port)
    server.stop()  # a second stop signals nothing: the old group id may belong to someone else now
    assert not server.running


def test_vllm_llm_fails_fast_when_nothing_listens():
    url = f"http://127.0.0.1:{_free_port()}/v1"
    llm = VllmLLM(url, "smollm2-135m-instruct", timeout_s=30)
    choices = {"candidates": ["i1"], "events": ["e1"], "interests": ["t1"]}
    started = time.monotonic()
    with pytest.raises(LLMUnavailableError, match=f"LLM server at {url} failed: Connection error"):
        llm.generate([Message("user", "rank these")], RerankOutput, choices=choices)
    assert time.monotonic() - started < 3


def test_model_problems_name_each_missing_part(tmp_path):
    assert model_problems(_complete_model(tmp_path / "ok")) == []
    assert model_problems(_complete_model(tmp_path / "ok-old-style", template_in_config=True)) == []
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    problems = model_problems(broken)
    assert problems[0].startswith("config.json is not valid JSON")
    assert problems[1:] == [
        "no *.safetensors weights",
        "no tokenizer.json or tokenizer.model",
        "no chat template (tokenizer_config.json or chat_template.jinja)",
    ]
    assert model_problems(tmp_path / "absent") == [f"{tmp_path / 'absent'} does not exist"]
    assert "<|im_start|>" in chat_template(tmp_path / "ok-old-style")


def test_ensure_model_returns_a_complete_folder_without_converting(tmp_path):
    # no vLLM venv at all: proves nothing was run
    settings = _settings(tmp_path, python=tmp_path / "missing" / "python", model_dir=None)
    target = _complete_model(settings.model_dir)
    assert ensure_model(settings) == target


def test_ensure_model_asks_for_make_setup_when_the_vllm_venv_is_missing(tmp_path):
    settings = _settings(tmp_path, python=tmp_path / "missing" / "python", model_dir=None)
    with pytest.raises(ModelPrepareError, match="run `make setup`"):
        ensure_model(settings)
    assert not settings.model_dir.exists()  # nothing half-written


def test_ensure_model_never_overwrites_a_configured_or_half_filled_folder(tmp_path):
    configured = tmp_path / "mine"
    configured.mkdir()
    with pytest.raises(ModelPrepareError, match=r"configured model folder is not usable: no config.json.*MODEL_DIR"):
        ensure_model(_settings(tmp_path, model_dir=configured))

    settings = _settings(tmp_path, model_dir=None)
    settings.model_dir.mkdir(parents=True)
    (settings.model_dir / "config.json").write_text("{}")
    with pytest.raises(ModelPrepareError, match=r"exists but is not a complete model .*delete it"):
        ensure_model(settings)
    assert (settings.model_dir / "config.json").read_text() == "{}"


def test_benchmark_rerank_cases_are_varied_consistent_and_within_the_prompt_budget():
    from bench.llm_bench import rerank_cases
    from memory.tokens import count_tokens
    from prompts.loader import load_prompt

    cases = rerank_cases(20, seed=7)
    assert cases == rerank_cases(20, seed=7)  # reproducible
    assert len({tuple(case.choices["candidates"]) for case in cases}) == 20
    prompt = load_prompt("rerank")
    for case in cases:
        variables, choices = case.variables, case.choices
        assert choices["candidates"] == [c["id"] for c in variables["candidates"]]
        assert len(set(choices["events"])) == len(variables["events"])
        seen_text = " ".join(e["text"] for e in variables["events"])
        assert not any(c["title"] in seen_text for c in variables["candidates"])  # candidates are unseen items
        assert 1 <= variables["top_k"] <= len(choices["candidates"])
        rendered = prompt.render(**variables)
        assert count_tokens(rendered.system) + count_tokens(rendered.user) <= prompt.token_budget
