"""`shiftrec bench reload`: retrain and swap behaviour models while HTTP clients keep asking.

A real API (uvicorn on loopback) over a service on MovieLens-100K's first users; client
threads post recommendations without pause while the behaviour models are retrained on the
log (`train_behaviour`, as `shiftrec train` does) and each new version is swapped in by the
service's watcher. Every failed request counts: the target is none. No LLM is started:
the swap concerns the behaviour models only, and template explanations keep the clients fast.

Writes ``reload_failed_requests`` and a ``reload`` object into ``domains.json`` (other keys kept).
"""

from __future__ import annotations

import random
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

from agent.rankers.artifacts import ArtifactStore
from agent.rankers.behaviour_training import train_behaviour
from agent.rankers.sequential import SequentialConfig
from agent.service import ShiftRecService
from bench.domains_file import merge_domains
from bench.eval.cost import machine_load
from memory.movielens import load_movielens
from memory.service import InterestMemory
from serving.app import create_app, serve_in_background
from serving.settings import Settings

RELOAD_SASREC = SequentialConfig(max_len=30, hidden=32, epochs=2)  # a retraining of seconds, many swaps per run


def run_reload_bench(settings: Settings, results_dir: Path, users: int = 150, reloads: int = 5,
                     clients: int = 3, seed: int = 0) -> dict:
    data = load_movielens("ml-100k")
    chosen = data.user_ids[:users]
    with tempfile.TemporaryDirectory(prefix="shiftrec-reload-") as folder:
        local = settings.model_copy(update={"data_dir": Path(folder), "chroma_url": None, "demo": "none"})
        config = local.agent_config
        config = config.model_copy(update={"agent": config.agent.model_copy(
            update={"train_sequential_if_missing": False, "model_poll_s": 3600.0})})
        with InterestMemory.open(local.memory_config) as memory:
            memory.add_items(list(data.items))
            memory.ingest(data.events(chosen), progress=False)
            service = ShiftRecService.create(config, memory, None, echo=lambda line: None)
            try:
                result = _measure(service, local, chosen, reloads, clients, seed)
            finally:
                service.close()
    merge_domains(results_dir, result)
    return result


def _measure(service: ShiftRecService, settings: Settings, users, reloads: int, clients: int, seed: int) -> dict:
    store = ArtifactStore(settings.artifacts_dir)
    load_before = machine_load()
    versions, swap_seconds = [], []
    samples: list[tuple[float, bool]] = []
    lock, done = threading.Lock(), threading.Event()
    with serve_in_background(create_app(service, settings.api)) as url:
        def ask(number: int) -> None:
            rng = random.Random(seed + number)
            with httpx.Client(base_url=url, timeout=60.0) as client:
                while not done.is_set():
                    started = time.perf_counter()
                    try:
                        ok = client.post(f"/users/{rng.choice(users)}/recommendations", json={"count": 5}).status_code == 200
                    except httpx.HTTPError:
                        ok = False
                    with lock:
                        samples.append((time.perf_counter() - started, ok))

        threads = [threading.Thread(target=ask, args=(n,), daemon=True) for n in range(clients)]
        for thread in threads:
            thread.start()
        for _ in range(reloads):
            meta = train_behaviour(list(service.memory.event_log()), store, service.settings.agent, RELOAD_SASREC,
                                   progress=False, echo=lambda line: None)
            started = time.perf_counter()
            service.updates.check()
            swap_seconds.append(time.perf_counter() - started)
            versions.append(service.model_version)
            assert service.model_version == meta.version
        done.set()
        for thread in threads:
            thread.join()
    latencies = np.array([seconds for seconds, _ in samples])
    return {
        "reload_failed_requests": sum(1 for _, ok in samples if not ok),
        "reload": {
            "requests": len(samples), "reloads": reloads, "clients": clients, "users": len(users),
            "versions_served": versions, "swap_s_max": round(max(swap_seconds), 3),
            "p50_ms": round(float(np.percentile(latencies, 50)) * 1000, 1),
            "p95_ms": round(float(np.percentile(latencies, 95)) * 1000, 1),
            "dataset": "MovieLens-100K, first users", "llm": "none (template explanations)",
            "load_average_before": load_before, "load_average_after": machine_load(),
        },
    }

