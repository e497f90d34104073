"""`shiftrec bench serving`: the HTTP API under 8 and 32 concurrent clients on loopback.

At each level every client sends ``rounds`` recommendation requests (full LLM explanations,
as a person gets them), then ``why_per_client`` "why?" requests about the items those
recommendations listed. The loops are bounded, so every run sends the same requests.
Before the levels, one wave of explained recommendations (as many as the lowest level's
clients, for users the lowest level does not ask about) meets the LLM cold; it is reported
apart as ``first_wave``: right after start it took ~1.5 s longer than later waves (measured).
Each answer's status, latency and, for recommendations, whether it was served degraded
(LLM work shed under load, or the LLM failing) is kept. Writes serving.json and serving.md.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from urllib.parse import quote

import httpx
import numpy as np

LEVELS = (8, 32)
TARGETS = {"errors": ("<=", 0), "recommend_p95_ms_8": ("<=", 6000), "recommend_p95_ms_32": ("<=", 10000),
           "why_p95_ms_32": ("<=", 500)}


@dataclass(frozen=True)
class ServingLoad:
    users: list[str]
    rounds: int = 3
    why_per_client: int = 10
    levels: tuple[int, ...] = LEVELS
    count: int = 5
    timeout_s: float = 180.0


@dataclass(frozen=True)
class Sample:
    seconds: float
    ok: bool
    problem: str | None = None  # for a failed request: the status and body start, or the exception
    degraded: bool = False
    why_target: tuple[str, str, tuple[str, ...]] | None = None  # user, record id, item ids


@dataclass
class Phase:
    endpoint: str  # "recommend" or "why"
    clients: int
    samples: list[Sample] = field(default_factory=list)
    wall_s: float = 0.0

    def summary(self) -> dict:
        answered = [sample for sample in self.samples if sample.ok]
        seconds = [sample.seconds for sample in answered]
        numbers: dict = {
            "requests": len(self.samples),
            "errors": len(self.samples) - len(answered),
            "error_examples": sorted({sample.problem for sample in self.samples if sample.problem})[:5],
            "rps": round(len(answered) / self.wall_s, 2) if self.wall_s > 0 else None,
            "p50_ms": percentile_ms(seconds, 50),
            "p95_ms": percentile_ms(seconds, 95),
        }
        if self.endpoint == "recommend":
            degraded = sum(sample.degraded for sample in answered)
            numbers["degraded_share"] = round(degraded / len(answered), 3) if answered else None
        return numbers


def percentile_ms(seconds: Sequence[float], q: float) -> float | None:
    return round(float(np.percentile(seconds, q)) * 1000.0, 1) if len(seconds) else None


def summarise(phases: Sequence[Phase]) -> dict[str, float | int | None]:
    """Flat keys such as ``recommend_p95_ms_32``; ``rps_32`` and ``degraded_share_32`` are the recommendations'."""
    result: dict = {"errors": sum(phase.summary()["errors"] or 0 for phase in phases)}
    for phase in phases:
        for name, value in phase.summary().items():
            result[f"{phase.endpoint}_{name}_{phase.clients}"] = value
    for clients in sorted({phase.clients for phase in phases}):
        result[f"rps_{clients}"] = result.get(f"recommend_rps_{clients}")
        result[f"degraded_share_{clients}"] = result.get(f"recommend_degraded_share_{clients}")
    return result


def why_jobs(samples: Sequence[Sample], total: int) -> list[tuple[str, str, str]]:
    """``total`` (user, record, item) questions, cycling over the records, then over each record's items."""
    targets = [sample.why_target for sample in samples if sample.ok and sample.why_target and sample.why_target[2]]
    jobs = []
    for index in range(total if targets else 0):
        user, record_id, items = targets[index % len(targets)]
        jobs.append((user, record_id, items[(index // len(targets)) % len(items)]))
    return jobs


def run_serving_bench(
    url: str, api_key: str | None, load: ServingLoad, results_dir: Path, comparisons: dict[str, Path] | None = None,
) -> dict:
    """Measure every level against the API at ``url``; write serving.json and serving.md (earlier runs named
    in ``comparisons`` stored and shown beside it); return the JSON."""
    results_dir.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    phases = asyncio.run(measure(url, api_key, load))
    result = summarise(phases) | {
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "load": {"users": len(load.users), "rounds": load.rounds, "why_per_client": load.why_per_client,
                 "count": load.count, "levels": list(load.levels)},
    }
    for name, path in (comparisons or {}).items():
        earlier = json.loads(path.read_text(encoding="utf-8"))
        result[f"comparison_{name}"] = {key: value for key, value in earlier.items() if not key.startswith("comparison_")}
    (results_dir / "serving.json").write_text(json.dumps(result, indent=2) + "\n")
    (results_dir / "serving.md").write_text(render_markdown(result, phases))
    return result


async def measure(url: str, api_key: str | None, load: ServingLoad) -> list[Phase]:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    limits = httpx.Limits(max_connections=max(load.levels), max_keepalive_connections=max(load.levels))
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=load.timeout_s, limits=limits) as client:
        for user in load.users:  # warm caches (SASRec, catalog) outside the measurement
            await client.post(f"/users/{quote(user, safe='')}/recommendations", json={"explain": False})
        first = min(load.levels)
        cold_users = [load.users[-1 - index % len(load.users)] for index in range(first)]
        phases: list[Phase] = [await run_phase(
            "first_wave", first, [partial(recommend_once, client, user, load.count) for user in cold_users])]
        for clients in load.levels:
            users = [load.users[index % len(load.users)] for index in range(clients * load.rounds)]
            recommend = await run_phase("recommend", clients,
                                        [partial(recommend_once, client, user, load.count) for user in users])
            questions = why_jobs(recommend.samples, clients * load.why_per_client)
            why = await run_phase("why", clients, [partial(why_once, client, *question) for question in questions])
            phases += [recommend, why]
    return phases


async def run_phase(endpoint: str, clients: int, jobs: Sequence[Callable[[], Awaitable[Sample]]]) -> Phase:
    """``clients`` workers take the jobs in order until none is left."""
    phase = Phase(endpoint, clients)
    queue = list(reversed(jobs))

    async def worker() -> None:
        while queue:
            phase.samples.append(await queue.pop()())

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    phase.wall_s = time.perf_counter() - started
    return phase


async def recommend_once(client: httpx.AsyncClient, user: str, count: int) -> Sample:
    started = time.perf_counter()
    try:
        response = await client.post(f"/users/{quote(user, safe='')}/recommendations", json={"count": count})
    except httpx.HTTPError as error:
        return Sample(time.perf_counter() - started, ok=False, problem=repr(error))
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        return Sample(elapsed, ok=False, problem=f"{response.status_code} {response.text[:200]}")
    record = response.json()
    items = tuple(entry["item_id"] for entry in record["items"])
    return Sample(elapsed, ok=True, degraded=bool(record["degraded"]), why_target=(user, record["id"], items))


async def why_once(client: httpx.AsyncClient, user: str, record_id: str, item_id: str) -> Sample:
    started = time.perf_counter()
    user, record_id, item_id = (quote(part, safe="") for part in (user, record_id, item_id))
    path = f"/users/{user}/recommendations/{record_id}/items/{item_id}/why"
    try:
        response = await client.get(path)
    except httpx.HTTPError as error:
        return Sample(time.perf_counter() - started, ok=False, problem=repr(error))
    ok = response.status_code == 200
    return Sample(time.perf_counter() - started, ok=ok, problem=None if ok else f"{response.status_code} {response.text[:200]}")


def render_markdown(result: dict, phases: Sequence[Phase]) -> str:
    rows = []
    for phase in phases:
        s = phase.summary()
        degraded = s.get("degraded_share")
        rows.append(f"| {phase.endpoint} | {phase.clients} | {s['requests']} | {s['errors']} | {s['rps']} | "
                    f"{s['p50_ms']} | {s['p95_ms']} | {'-' if degraded is None else degraded} |")
    checks = []
    for key, (_, limit) in TARGETS.items():
        value = result.get(key)
        met = "-" if value is None else "met" if value <= limit else "missed"
        checks.append(f"| {key} | {value} | <= {limit} | {met} |")
    load = result["load"]
    return "\n".join([
        "# Serving benchmark",
        "",
        f"{result['measured_at']}; {result['machine']['cpus']} cores; load average before "
        f"{result['load_average_before']}, after {result['load_average_after']}. Loopback HTTP; each client sends "
        f"{load['rounds']} recommendation requests ({load['count']} items, LLM explanations) and then "
        f"{load['why_per_client']} why requests, rotating over {load['users']} demo users. req/s counts answered "
        "requests over the phase's wall time; `rps_32` is the recommendations' rate with 32 clients; degraded = "
        "share of recommendations served with shed or failed LLM work (template explanations).",
        "",
        "| endpoint | clients | requests | errors | req/s | p50 ms | p95 ms | degraded |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "| target | value | limit | |",
        "|---|---|---|---|",
        *checks,
        "",
        *_comparison_table(result),
    ])


COMPARED = ("recommend_p50_ms_8", "recommend_p95_ms_8", "degraded_share_8", "recommend_p95_ms_32",
            "why_p95_ms_32", "rps_32", "degraded_share_32", "errors")


def _comparison_table(result: dict) -> list[str]:
    """This run beside each ``comparison_<name>`` run stored in the results, key by key."""
    runs = {"this run": result} | {k.removeprefix("comparison_"): v for k, v in result.items()
                                   if k.startswith("comparison_")}
    if len(runs) == 1:
        return []
    return [
        "Earlier runs stored beside this one (`comparison_*`):",
        "",
        "| run | measured at | load before | " + " | ".join(COMPARED) + " |",
        "|---|---|---|" + "---|" * len(COMPARED),
        *(f"| {name} | {run.get('measured_at')} | {run.get('load_average_before')} | "
          + " | ".join(str(run.get(key, "-")) for key in COMPARED) + " |" for name, run in runs.items()),
        "",
    ]
