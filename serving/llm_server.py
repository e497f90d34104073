"""The embedded vLLM CPU server: one child process group, started, health-checked and stopped.

vLLM lives in its own venv (its torch and transformers pins clash with the app's), so the
app starts it as a subprocess and talks to it over its OpenAI-compatible HTTP API. The
process gets its own process group, so :meth:`EmbeddedLLMServer.stop` also ends vLLM's
engine and worker children.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import httpx

from serving.adapters import lora_flags, served_adapters
from serving.settings import Settings

VLLM_MODULE = "vllm.entrypoints.launchers.api_server.entry"
STRUCTURED_OUTPUTS = {"backend": "xgrammar", "disable_any_whitespace": True}
LOG_TAIL_LINES = 30
_PR_SET_PDEATHSIG = 1
_REAP_WAIT_S = 10.0  # killed orphans stay visible until init reaps them (~2 s seen here)


class LLMServerError(RuntimeError):
    """The embedded server cannot start or died; the message says why and what to fix."""


def llm_base_url(settings: Settings) -> str:
    """The OpenAI-compatible URL callers use: the configured remote vLLM, else the embedded one."""
    if settings.llm.url:
        return settings.llm.url.rstrip("/")
    return f"http://{settings.server.host}:{settings.server.port}/v1"


def vllm_command(settings: Settings, model_dir: Path, adapters: Mapping[str, Path] | None = None) -> list[str]:
    """The command line that starts vLLM's OpenAI-compatible server for ``model_dir`` (and LoRA ``adapters``)."""
    server = settings.server
    command = [
        str(server.python), "-m", VLLM_MODULE,
        "--model", str(model_dir),
        "--host", server.host,
        "--port", str(server.port),
        "--served-model-name", settings.llm.model,
        "--max-model-len", str(settings.llm.context_tokens),
        "--dtype", server.resolved_dtype,
        "--block-size", str(server.block_size),
        "--structured-outputs-config", json.dumps(STRUCTURED_OUTPUTS),
    ]  # fmt: skip
    if server.enforce_eager:
        command.append("--enforce-eager")
    return command + lora_flags(dict(adapters or {})) + list(server.extra_args)


def vllm_env(settings: Settings) -> dict[str, str]:
    """The child's environment: offline, with the configured KV cache size and process layout."""
    return {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "VLLM_NO_USAGE_STATS": "1",
        "VLLM_ALLOW_RUNTIME_LORA_UPDATING": "True",  # `shiftrec train --llm` swaps a new adapter in
        "VLLM_CPU_KVCACHE_SPACE": str(settings.server.kv_cache_gb),
        "VLLM_ENABLE_V1_MULTIPROCESSING": "0" if settings.server.single_process else "1",
        **({"VLLM_CPU_NUM_OF_RESERVED_CPU": "0", "GOMP_SPINCOUNT": "200000"} if settings.server.all_cores else {}),
    }


def port_in_use(host: str, port: int) -> bool:
    """Whether something already holds ``host:port`` (connections lingering in TIME_WAIT do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of a log file, or a note that there is none."""
    try:
        with path.open(encoding="utf-8", errors="replace") as log:
            return "".join(deque(log, maxlen=lines)).rstrip()
    except FileNotFoundError:
        return f"(no log at {path})"


class EmbeddedLLMServer:
    """vLLM serving the local model; a context manager that always stops what it started."""

    def __init__(self, settings: Settings, *, model_dir: Path | None = None, stop_grace_s: float = 20.0,
                 adapters: Mapping[str, Path] | None = None):
        self.settings = settings
        self.model_dir = model_dir or settings.model_dir
        self.adapters = dict(served_adapters(settings) if adapters is None else adapters)
        self.stop_grace_s = stop_grace_s
        self.log_path = settings.data_dir / "logs" / "vllm.log"
        self.startup_s: float | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._stopped = False

    @property
    def base_url(self) -> str:
        return f"http://{self.settings.server.host}:{self.settings.server.port}/v1"

    @property
    def health_url(self) -> str:
        return f"http://{self.settings.server.host}:{self.settings.server.port}/health"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def check_can_start(self) -> None:
        """Fail early, with what to fix, on the mistakes that would otherwise surface deep in vLLM's log."""
        server = self.settings.server
        if not server.python.is_file():
            raise LLMServerError(
                f"the vLLM venv's python is missing at {server.python}; run `make setup` "
                "(or set SHIFTREC_SERVER__PYTHON to a python that has vllm-cpu)"
            )
        config = self.model_dir / "config.json"
        if not config.is_file():
            raise LLMServerError(
                f"no model at {self.model_dir} (config.json missing); run `shiftrec prepare-model` "
                "or set SHIFTREC_SERVER__MODEL_DIR to a safetensors model folder"
            )
        if port_in_use(server.host, server.port):
            raise LLMServerError(
                f"port {server.port} on {server.host} is already in use (another vLLM still running?); "
                "stop it or set SHIFTREC_SERVER__PORT to a free port"
            )

    def start(self) -> EmbeddedLLMServer:
        """Spawn vLLM and block until /health answers; raise :class:`LLMServerError` with the log tail otherwise."""
        if self.running:
            raise LLMServerError(f"this server is already running (pid {self.pid})")
        self.check_can_start()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        self._stopped = False
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                vllm_command(self.settings, self.model_dir, self.adapters),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=vllm_env(self.settings),
                start_new_session=True,
                # PDEATHSIG follows the spawning thread: only tie vLLM's life to the main one
                preexec_fn=_die_with_parent if threading.current_thread() is threading.main_thread() else None,
            )
        try:
            self._wait_until_healthy()
        except BaseException:
            self.stop()
            raise
        self.startup_s = time.perf_counter() - started
        return self

    def _wait_until_healthy(self) -> None:
        timeout_s = self.settings.server.startup_timeout_s
        deadline = time.monotonic() + timeout_s
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                code = self._process.poll() if self._process else None
                if code is not None:
                    raise LLMServerError(
                        f"vLLM exited with code {code} while starting; last lines of {self.log_path}:\n"
                        f"{log_tail(self.log_path)}"
                    )
                try:
                    if client.get(self.health_url).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass  # not listening yet
                time.sleep(0.5)
        raise LLMServerError(
            f"vLLM did not become healthy within {timeout_s:.0f} s (SHIFTREC_SERVER__STARTUP_TIMEOUT_S); "
            f"last lines of {self.log_path}:\n{log_tail(self.log_path)}"
        )

    def wait(self) -> int:
        """Block until the server exits on its own; returns its exit code."""
        if self._process is None:
            raise LLMServerError("the server was never started")
        return self._process.wait()

    def stop(self) -> None:
        """SIGTERM the whole process group, then SIGKILL whatever is left after ``stop_grace_s``."""
        process = self._process
        if process is None or self._stopped:
            return  # never signal a group id twice: the number may belong to someone else by now
        group = process.pid  # start_new_session made the child its group's leader
        _signal_group(group, signal.SIGTERM)
        if not _wait_until_gone(process, group, self.stop_grace_s):
            _signal_group(group, signal.SIGKILL)
            _wait_until_gone(process, group, _REAP_WAIT_S)
        self._stopped = True

    def __enter__(self) -> EmbeddedLLMServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()


def _signal_group(group: int, sig: signal.Signals) -> None:
    try:
        os.killpg(group, sig)
    except ProcessLookupError:
        pass


def _wait_until_gone(process: subprocess.Popen[bytes], group: int, timeout_s: float) -> bool:
    """Reap the leader and wait for every group member (engine, workers) to vanish."""
    deadline = time.monotonic() + timeout_s
    while True:
        process.poll()
        if process.returncode is not None and not _group_alive(group):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


_LIBC = ctypes.CDLL(None, use_errno=True)  # loaded in the parent: the forked child only calls into it


def _die_with_parent() -> None:
    """In the child: get SIGTERM if the app dies without stopping us, so no orphan vLLM keeps 5 GB."""
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
