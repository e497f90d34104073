"""`shiftrec bench reliability`: hostile input, faults and load, in scratch folders, with the real model.

1. fuzz: the API (over HTTP) from its OpenAPI schema plus the hand-written hostile cases,
   on a scratch MovieLens service without LLM (templates: fast, and the API contract is the same);
2. red team: the 44-case set against the agent on the real model (embedded vLLM);
3. faults: vLLM killed mid-request and restarted (``llm_recovery_s``), the Chroma server killed
   and restarted under writes, ``shiftrec ingest`` killed with -9 and run again;
4. load: ``clients`` simulated chat users for ``duration_s`` against the real-model service.
Nothing touches the user's own data dir. Writes reliability.json and reliability.md.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path

import httpx

REQUIRED_KEYS = {"fuzz_cases", "fuzz_5xx", "redteam_cases", "redteam_violations", "events_lost", "load_users",
                 "load_errors", "load_p95_ms", "llm_recovery_s"}
TARGETS = {"fuzz_5xx": ("<=", 0), "fuzz_4xx_without_message": ("<=", 0), "redteam_violations": ("<=", 0),
           "events_lost": ("<=", 0), "load_errors": ("<=", 0), "llm_recovery_s": ("<=", 10)}
SCRATCH_USERS = [str(user) for user in range(1, 61)]  # ML-100K users 1-60, ~6,000 ratings
BENCH_KEY = "reliability-bench-admin-key-0123"


def stored_event_ids(data_dir: Path) -> list[str]:
    """The event id of every event row in an embedded store (a repeated id shows up twice)."""
    from memory.service import InterestMemory
    from serving.settings import load_settings

    with InterestMemory.open(load_settings(data_dir=data_dir).memory_config) as memory:
        counts: Counter[str] = Counter()
        for page in memory.store.all_event_metadata():
            counts.update(str(metadata["event_id"]) for metadata in page)
    return list(counts.elements())


def scratch_settings(settings, folder: Path, **api: object):
    from serving.settings import ApiSettings

    return settings.model_copy(update={"data_dir": folder, "chroma_url": None,
                                       "api": ApiSettings(admin_key=BENCH_KEY, ui=False, **api)})


def scratch_service(settings, folder: Path, llm, chroma_url: str | None = None, users: list[str] = SCRATCH_USERS):
    """A service on MovieLens-100K (catalog + ``users``' ratings) in ``folder``, never the user's data dir,
    with the settings it was built from (for the app)."""
    from agent.chat.intents import IntentClassifier, IntentRouter
    from agent.rankers.behaviour import BehaviourModels
    from agent.rankers.sequential import SequentialConfig
    from agent.service import ShiftRecService
    from memory.movielens import load_movielens
    from memory.service import InterestMemory

    local = scratch_settings(settings, folder).model_copy(update={"chroma_url": chroma_url})
    memory = InterestMemory.open(local.memory_config)
    data = load_movielens("ml-100k")
    memory.add_items(list(data.items), progress=False)
    memory.ingest(data.events(users), progress=False)
    behaviour = BehaviourModels.from_log(memory.event_log(), folder / "sasrec.pt",
                                         config=SequentialConfig(max_len=30, hidden=32, epochs=3))
    router = IntentRouter(IntentClassifier.cached(memory.embedder.embed, settings.cache_dir))
    return ShiftRecService(local.agent_config, memory, llm, behaviour, router), local


def run_reliability_bench(settings, results_dir: Path, clients: int = 50, duration_s: float = 120.0,
                          fuzz_examples: int = 50, echo: Callable[[str], None] = print) -> dict:
    from agent.llm.vllm_client import VllmLLM
    from bench.api_fuzz import fuzz_explicit, fuzz_schema
    from bench.chat_load import ChatLoad, run_chat_load
    from bench.faults import llm_outage
    from bench.redteam import run_redteam
    from serving.app import create_app, serve_in_background
    from serving.llm_server import EmbeddedLLMServer

    headers = {"Authorization": f"Bearer {BENCH_KEY}"}
    result: dict = {"measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "cpus": os.cpu_count(), "load_average_before": round(os.getloadavg()[0], 2),
                    "platform": platform.platform()}
    with tempfile.TemporaryDirectory(prefix="shiftrec-reliability-") as scratch, ExitStack() as stack:
        root = Path(scratch)
        echo("fuzz: scratch service without LLM")
        plain, plain_settings = scratch_service(settings, root / "fuzz", None)
        stack.callback(plain.close)
        with serve_in_background(create_app(plain, plain_settings.api)) as url:
            report = fuzz_schema(url, BENCH_KEY, fuzz_examples)
            fuzz_explicit(url, BENCH_KEY, plain_settings.api.max_body_bytes, report)
        result |= report.summary() | {"fuzz_problems": (report.server_errors + report.bad_client_errors)[:20]}

        echo("starting the embedded vLLM for red team, load and the LLM outage")
        vllm_settings = settings.model_copy(update={"data_dir": root / "vllm", "server": settings.server.model_copy(
            update={"port": _free_port()})})
        server = EmbeddedLLMServer(vllm_settings).start()
        llm = VllmLLM(server.base_url, settings.llm.model, api_key=settings.llm.api_key,
                      timeout_s=settings.llm.timeout_s, context_tokens=settings.llm.context_tokens)
        service, agent_settings = scratch_service(settings, root / "agent", llm)
        stack.callback(service.close)
        echo("red team on the real model")
        redteam = run_redteam(service, attacker="45", victim="46")
        result |= {"redteam_cases": redteam["redteam_cases"], "redteam_violations": redteam["redteam_violations"],
                   "redteam_problems": redteam["violations"][:20]}
        with serve_in_background(create_app(service, agent_settings.api)) as url:
            echo(f"load: {clients} chat users for {duration_s:.0f} s")
            load = ChatLoad(users=SCRATCH_USERS, clients=clients, duration_s=duration_s)
            result |= run_chat_load(url, headers, load, os.getpid())
            echo("fault: the LLM killed mid-request and restarted")
            outage = llm_outage(url, headers, "1", server, lambda: service.llm_queue)
        server = outage.pop("server")
        server.stop()
        result |= {"llm_recovery_s": outage["llm_recovery_s"], "llm_outage": outage}
        echo("faults: the Chroma server restarted under writes; the ingest killed with -9")
        result |= _storage_faults(settings, root, headers)
    result["load_average_after"] = round(os.getloadavg()[0], 2)
    write_results(result, results_dir)
    return result


def _storage_faults(settings, root: Path, headers: dict) -> dict:
    from bench.faults import chroma_restart_under_writes, ingest_kill_drill
    from memory.movielens import load_movielens
    from serving.app import create_app, serve_in_background

    chroma_dir = root / "chroma-server"
    chroma_dir.mkdir()
    port = _free_port()
    chroma = subprocess.Popen([str(Path(sys.executable).parent / "chroma"), "run", "--host", "127.0.0.1", "--port",
                               str(port), "--path", str(chroma_dir)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        _wait_until_up(f"http://127.0.0.1:{port}/api/v2/heartbeat")
        service, server_settings = scratch_service(
            settings, root / "on-server", None, f"http://127.0.0.1:{port}", users=["1", "2"]
        )
        try:
            with serve_in_background(create_app(service, server_settings.api)) as url:
                log, chroma = chroma_restart_under_writes(url, headers, chroma, [str(i) for i in range(1, 200)])
            writers = {user for user, _ in log.acknowledged}
            service.memory.drop_cached(writers)
            stored = {user: {e["event_id"] for e in service.export_user(user).events} for user in writers}
        finally:
            service.close()
    finally:
        chroma.kill()
        chroma.wait()
    lost = [event_id for user, event_id in log.acknowledged if event_id not in stored[user]]
    data = load_movielens("ml-100k")
    items = [{"id": item.id, "title": item.title, "categories": item.categories} for item in data.items[:300]]
    events = [{"id": f"e{n}", "user": f"u{n % 97}", "item": items[(n * 7) % 300]["id"], "action": "view",
               "value": "", "timestamp": 1_600_000_000 + n} for n in range(6000)]
    (root / "ingest").mkdir()
    drill = ingest_kill_drill(root / "ingest", items, events, 500, stored_event_ids)
    ingest_lost = drill["missing_events"]
    return {"events_lost": len(lost) + ingest_lost, "chroma_restart": {
        "acknowledged": len(log.acknowledged), "refused": log.refused, "refusal_types": sorted(log.refusal_types),
        "lost": len(lost)}, "ingest_kill": {k: v for k, v in drill.items() if k != "output_tail"}}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_up(url: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout_s:.0f} s")


def write_results(result: dict, results_dir: Path) -> None:
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / "reliability.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    (results_dir / "reliability.md").write_text(render_markdown(result))


def render_markdown(result: dict) -> str:
    lines = ["# Reliability and security benchmark", "",
             f"Measured {result.get('measured_at', '?')} on {result.get('cpus', '?')} CPUs; load average "
             f"{result.get('load_average_before', '?')} before and {result.get('load_average_after', '?')} after.",
             "", "| measure | value | target |", "|---|---|---|"]
    for key in sorted(REQUIRED_KEYS | set(TARGETS)):
        value = result.get(key)
        target = ""
        if key in TARGETS:
            op, bound = TARGETS[key]
            met = value is not None and value <= bound
            target = f"{op} {bound} ({'met' if met else 'missed'})"
        lines.append(f"| {key} | {value} | {target} |")
    return "\n".join(lines) + "\n"
