"""Several real API workers over one real `chroma run` server, on loopback: what the scale-out test
and `shiftrec bench scaleout` both drive. Each worker is `shiftrec worker --port P` in its own
process (no LLM: stand-ins serve), sharing the store and a data folder for trained versions."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import httpx

from memory.service import InterestMemory
from serving.cluster import BIN, ChromaServer, free_port
from serving.offline import OFFLINE_ENV
from serving.settings import Settings, load_settings

READY_S = 240.0


class Cluster:
    """A Chroma server, the data loaded into it once, and ``workers`` API processes; closed with the context."""

    def __init__(self, folder: Path, load: Callable[[InterestMemory], None], env: dict[str, str] | None = None):
        self.folder = folder
        self._load = load
        self._env = env or {}
        self._stack = ExitStack()
        self.chroma: ChromaServer | None = None
        self.workers: list[subprocess.Popen] = []
        self.urls: list[str] = []

    def __enter__(self) -> Cluster:
        self.chroma = self._stack.enter_context(ChromaServer(self.folder / "chroma", port=free_port()))
        with InterestMemory.open(self.settings.memory_config) as memory:
            self._load(memory)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop_workers()
        self._stack.close()

    @property
    def settings(self) -> Settings:
        return load_settings(data_dir=self.folder / "data", cache_dir=self.folder / "cache",
                             chroma_url=self.chroma.url if self.chroma else None, demo="none")

    def start_workers(self, count: int) -> list[str]:
        """``count`` more workers, returned once every one answers /ready."""
        env = {**os.environ, **OFFLINE_ENV, "SHIFTREC_CHROMA_URL": self.chroma.url,
               "SHIFTREC_DATA_DIR": str(self.folder / "data"), "SHIFTREC_CACHE_DIR": str(self.folder / "cache"),
               "SHIFTREC_DEMO": "none", "SHIFTREC_API__UI": "false", **self._env}
        env.pop("SHIFTREC_LLM__URL", None)
        started = []
        for _ in range(count):
            port = free_port()
            log = (self.folder / f"worker-{port}.log").open("w")
            process = subprocess.Popen([str(BIN / "shiftrec"), "worker", "--port", str(port)], env=env, stdout=log,
                                       stderr=subprocess.STDOUT)
            self.workers.append(process)
            started.append(f"http://127.0.0.1:{port}")
        self.urls += started
        deadline = time.monotonic() + READY_S
        for url, process in zip(started, self.workers[-count:], strict=True):
            while not _ready(url):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"worker {url} did not start; see {self.folder}/worker-*.log")
                time.sleep(0.5)
        return started

    def kill(self, index: int) -> None:
        """kill -9 one worker (no clean shutdown: nothing it held in memory survives)."""
        self.workers[index].send_signal(signal.SIGKILL)
        self.workers[index].wait(timeout=10)

    def stop_workers(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                process.terminate()
        for process in self.workers:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        self.workers, self.urls = [], []

    def round_robin(self, urls: list[str] | None = None) -> itertools.cycle:
        return itertools.cycle(urls or self.urls)


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
