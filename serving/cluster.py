"""`shiftrec serve --workers N` on one machine: the shared engines and the jobs, then N API workers.

What runs: a `chroma run` server for the memory (unless SHIFTREC_CHROMA_URL names one), the embedded
vLLM (unless SHIFTREC_LLM__URL names one), the demo loaded into the store once, the trainer as its
own process (`shiftrec train --every-minutes M`, publishing versioned behaviour models under the
data folder), and N uvicorn worker processes on one port (serving/worker.py), which the kernel
hands connections to in turn. Ctrl-C stops everything. compose.yaml describes the same layout
across machines.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import typer

from serving.settings import Settings

BIN = Path(sys.executable).parent
STARTUP_S = 90.0


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (for servers started on loopback)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class ChromaServer:
    """`chroma run` on ``path`` at ``host:port``, stopped with the context."""

    def __init__(self, path: Path, host: str = "127.0.0.1", port: int = 8001):
        self.path, self.host, self.port = path, host, port
        self.url = f"http://{host}:{port}"
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> ChromaServer:
        self.path.mkdir(parents=True, exist_ok=True)
        log = (self.path / "chroma-server.log").open("a")
        self._process = subprocess.Popen([str(BIN / "chroma"), "run", "--host", self.host, "--port", str(self.port),
                                          "--path", str(self.path)], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + STARTUP_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"chroma run exited with {self._process.returncode}; see {log.name}")
            try:
                if httpx.get(f"{self.url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.3)
        self.__exit__()
        raise RuntimeError(f"chroma run did not answer at {self.url} within {STARTUP_S:.0f} s; see {log.name}")

    @property
    def pid(self) -> int:
        assert self._process is not None, "the server is not started"
        return self._process.pid

    def __exit__(self, *exc_info: object) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._process.kill()


def start_trainer(stack: ExitStack, every_minutes: float, env: dict[str, str]) -> subprocess.Popen:
    """`shiftrec train --every-minutes M` as its own process (its first training starts at once)."""
    trainer = subprocess.Popen([str(BIN / "shiftrec"), "train", "--every-minutes", str(every_minutes)], env=env)

    def stop() -> None:
        trainer.terminate()
        try:
            trainer.wait(timeout=20)
        except subprocess.TimeoutExpired:
            trainer.kill()

    stack.callback(stop)
    return trainer


def run_workers(host: str, port: int, workers: int, env: dict[str, str]) -> None:
    """N worker processes on one port until Ctrl-C (uvicorn's supervisor restarts none; each is stateless)."""
    import uvicorn

    os.environ.update(env)  # what the worker processes build their settings from
    uvicorn.run("serving.worker:app_from_env", factory=True, host=host, port=port, workers=workers,
                log_level="info")


def serve_workers(settings: Settings, workers: int, chroma_port: int, every_minutes: float) -> None:
    """The shared engines and the trainer, then N worker processes, until Ctrl-C."""
    from memory.service import InterestMemory
    from serving.demo import ensure_demo_data
    from serving.llm_server import llm_base_url
    from serving.runtime import start_embedded_llm

    with ExitStack() as stack:
        url = settings.chroma_url or stack.enter_context(ChromaServer(settings.data_dir / "chroma-server",
                                                                     port=chroma_port)).url
        shared = settings.model_copy(update={"chroma_url": url})
        if settings.llm.url is None:
            start_embedded_llm(stack, shared)
        with InterestMemory.open(shared.memory_config) as memory:
            typer.echo(ensure_demo_data(memory, shared).describe())
        env = {**os.environ, "SHIFTREC_CHROMA_URL": url, "SHIFTREC_LLM__URL": llm_base_url(shared),
               "SHIFTREC_DEMO": "none"}
        start_trainer(stack, every_minutes, env)
        typer.echo(f"memory: {url}; LLM: {llm_base_url(shared)}; trainer every {every_minutes:g} min; "
                   f"{workers} API workers on http://{settings.api.host}:{settings.api.port}")
        run_workers(settings.api.host, settings.api.port, workers, env)


def run_worker(settings: Settings, port: int | None) -> None:
    """One worker in the foreground (`shiftrec worker`)."""
    import uvicorn

    from serving.worker import WorkerConfigError, worker_app

    try:
        application = worker_app(settings)
    except WorkerConfigError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from error
    uvicorn.run(application, host=settings.api.host, port=port or settings.api.port, log_level="warning")
