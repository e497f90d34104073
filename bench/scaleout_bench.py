"""`shiftrec bench scaleout`: 1, 2 and 3 API workers over one `chroma run` server on loopback.

The MovieLens-100K demo is loaded into the server once. For each worker count, closed-loop clients
send recommendation requests (5 items with template reasons, no LLM) round-robin over the workers
for a fixed time: requests/s, p50 and p95. Then, with 3 workers: a session hopping between workers,
a record answered by another, feedback reaching the others, two workers writing one user at once, and
kill -9 of one worker under write load. On 2 cores the workers, the Chroma server and the clients
share the same CPUs: more workers than cores cannot add throughput there.
"""

from __future__ import annotations

import json
import os
import statistics
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil

from agent.chat.intents import IntentClassifier
from bench.cluster_harness import Cluster
from bench.scaleout_drills import (
    concurrent_writes,
    cross_worker_feedback,
    cross_worker_why,
    kill_under_load,
    session_continuity,
)
from memory.movielens import load_movielens
from memory.service import InterestMemory

WORKER_COUNTS = (1, 2, 3)
CLIENTS = 6
SECONDS = 30.0


def run_scaleout_bench(results_dir: Path, folder: Path, clients: int = CLIENTS, seconds: float = SECONDS) -> dict:
    load_before = os.getloadavg()
    movielens = load_movielens("ml-100k")
    users = list(movielens.user_ids[:200])
    items = [item.id for item in movielens.items[:300]]

    def load(memory: InterestMemory) -> None:
        memory.add_items(list(movielens.items), progress=True)
        memory.ingest(movielens.events(), progress=True)
        IntentClassifier.cached(memory.embedder.embed, folder / "cache")

    throughput: dict[str, Any] = {}
    with Cluster(folder, load, env={"SHIFTREC_AGENT__TUNE_SOURCE_WEIGHTS": "false"}) as cluster:
        for count in WORKER_COUNTS:
            cluster.start_workers(count)
            before = _cpu(cluster)
            throughput[str(count)] = _closed_loop(cluster.urls, users, clients, seconds)
            after = _cpu(cluster)
            throughput[str(count)]["cpu_s"] = {part: round(after[part] - before[part], 1) for part in after}
            cluster.stop_workers()
        cluster.start_workers(3)
        feedback, delay = cross_worker_feedback(cluster.urls, users[3])
        drills = {
            "session_continuity": session_continuity(cluster.urls, users[0]),
            "cross_worker_why": cross_worker_why(cluster.urls, users[1]),
            "cross_worker_feedback": feedback,
            "feedback_followed_within_s": delay,
            "concurrent_writes": concurrent_writes(cluster.urls, items, count=60),
            "kill": kill_under_load(cluster, victim=2, items=items, user_prefix="bench", seconds=20.0),
        }
    result = {
        "workers": list(WORKER_COUNTS),
        "rps": {count: found["rps"] for count, found in throughput.items()},
        "p95_ms": {count: found["p95_ms"] for count, found in throughput.items()},
        "throughput": throughput,
        "events_lost": drills["kill"]["events_lost"] + len(drills["concurrent_writes"]["lost"]),
        "failed_requests_outside_killed_worker": drills["kill"]["failed_requests_outside_killed_worker"],
        "session_continuity": min(drills["session_continuity"], drills["kill"]["victim_sessions_continued"]),
        "cross_worker_why": drills["cross_worker_why"],
        "cross_worker_feedback": drills["cross_worker_feedback"],
        "drills": drills,
        "setup": {"data": "MovieLens-100K demo in one `chroma run` server", "clients": clients, "seconds": seconds,
                  "request": "POST /users/{user}/recommendations count 5, template reasons (no LLM)",
                  "cpus": os.cpu_count()},
        "machine": {"load_before": [round(x, 2) for x in load_before],
                    "load_after": [round(x, 2) for x in os.getloadavg()]},
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / "scaleout.json").write_text(json.dumps(result, indent=2) + "\n")
    (results_dir / "scaleout.md").write_text(_markdown(result))
    return result


def _closed_loop(urls: list[str], users: list[str], clients: int, seconds: float) -> dict[str, Any]:
    """``clients`` threads, each sending its next request as soon as the last one is answered."""
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client(index: int) -> None:
        nonlocal failures
        with httpx.Client(timeout=120) as http:
            n = index
            while time.monotonic() < deadline:
                url, user = urls[n % len(urls)], users[(n * 7) % len(users)]
                started = time.perf_counter()
                ok = http.post(f"{url}/users/{user}/recommendations", json={"count": 5}).status_code == 200
                with lock:
                    if ok:
                        latencies.append(time.perf_counter() - started)
                    else:
                        failures += 1
                n += clients

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    return {"requests": len(latencies), "failed": failures, "rps": round(len(latencies) / elapsed, 2),
            "p50_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
            "p95_ms": round(float(np.percentile(latencies, 95)) * 1000, 1) if latencies else None}


def _cpu(cluster: Cluster) -> dict[str, float]:
    """CPU seconds used so far by the Chroma server, the workers and this process (the clients)."""
    def used(pid: int) -> float:
        times = psutil.Process(pid).cpu_times()
        return times.user + times.system

    return {"chroma": used(cluster.chroma.pid), "workers": sum(used(w.pid) for w in cluster.workers),
            "clients": used(os.getpid())}


def _markdown(result: dict[str, Any]) -> str:
    lines = ["# Scale-out: API workers over one Chroma server (loopback)", "",
             f"{result['setup']['clients']} closed-loop clients, {result['setup']['seconds']:.0f} s per worker count, "
             f"{result['setup']['request']}, {result['setup']['cpus']} CPUs.", "",
             "| workers | requests/s | p50 (ms) | p95 (ms) | failed | CPU s: Chroma server / workers / clients |",
             "|---|---|---|---|---|---|"]
    for count, found in result["throughput"].items():
        cpu = found["cpu_s"]
        lines.append(f"| {count} | {found['rps']} | {found['p50_ms']} | {found['p95_ms']} | {found['failed']} | "
                     f"{cpu['chroma']} / {cpu['workers']} / {cpu['clients']} |")
    kill = result["drills"]["kill"]
    lines += ["", "| drill (3 workers) | result |", "|---|---|",
              f"| events lost (kill -9 under load, concurrent writers) | {result['events_lost']} of "
              f"{kill['acknowledged']} acknowledged |",
              f"| failed requests outside the killed worker | {result['failed_requests_outside_killed_worker']} |",
              f"| session continuity | {result['session_continuity']} |",
              f"| cross-worker why | {result['cross_worker_why']} |",
              f"| cross-worker feedback | {result['cross_worker_feedback']} (item-kNN everywhere after "
              f"{result['drills']['feedback_followed_within_s']} s) |",
              f"| two workers writing one user | {result['drills']['concurrent_writes']['stored']} of "
              f"{result['drills']['concurrent_writes']['sent']} kept |", "",
              f"Load average before / after: {result['machine']['load_before']} / {result['machine']['load_after']}", ""]
    return "\n".join(lines)
