"""Simulated chat users on loopback: each runs a bounded loop of turns (chat, why, feedback, profile)
until its turn budget or the deadline, whichever comes first, so a run always stops by itself.
Counts errors, latency per endpoint and the app process's memory growth."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx
import numpy as np
import psutil

SCRIPT = ("recommend something for tonight", "why the second one?", "less horror please", "what do you think I like?")


@dataclass(frozen=True)
class ChatLoad:
    users: list[str]
    clients: int = 50
    duration_s: float = 120.0
    max_turns_per_client: int = 60
    timeout_s: float = 300.0
    feedback_item: str = "50"  # a catalog item every simulated user likes now and then


@dataclass
class LoadResult:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)
    degraded: int = 0
    wall_s: float = 0.0
    rss_before_mb: float = 0.0
    rss_after_mb: float = 0.0

    def note(self, endpoint: str, seconds: float, ok: bool, detail: str = "") -> None:
        self.latencies.setdefault(endpoint, [])
        if ok:
            self.latencies[endpoint].append(seconds)
        else:
            self.errors[endpoint] = self.errors.get(endpoint, 0) + 1
            if len(self.error_samples) < 10:
                self.error_samples.append(f"{endpoint}: {detail[:200]}")

    def summary(self, clients: int) -> dict:
        every = [s for seconds in self.latencies.values() for s in seconds]
        result: dict = {"load_users": clients, "load_requests": len(every) + sum(self.errors.values()),
                        "load_errors": sum(self.errors.values()), "load_p50_ms": percentile_ms(every, 50),
                        "load_p95_ms": percentile_ms(every, 95), "load_wall_s": round(self.wall_s, 1),
                        "load_degraded_turns": self.degraded,
                        "load_rss_growth_mb": round(self.rss_after_mb - self.rss_before_mb, 1)}
        for endpoint, seconds in sorted(self.latencies.items()):
            result[f"{endpoint}_requests"] = len(seconds) + self.errors.get(endpoint, 0)
            result[f"{endpoint}_p50_ms"] = percentile_ms(seconds, 50)
            result[f"{endpoint}_p95_ms"] = percentile_ms(seconds, 95)
        return result


def percentile_ms(seconds: Sequence[float], q: float) -> float | None:
    return round(float(np.percentile(seconds, q)) * 1000, 1) if seconds else None


def rss_mb(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 2**20


def chat_outcome(body: str) -> tuple[bool, bool, str]:
    """(complete, degraded, problem) of an SSE chat reply: complete means it ended with ``done``, no ``error``."""
    kinds = [line.removeprefix("event:").strip() for line in body.splitlines() if line.startswith("event:")]
    degraded = any((json.loads(line.removeprefix("data:")).get("record") or {}).get("degraded") for line in
                   body.splitlines() if line.startswith("data:") and '"record"' in line)
    if "error" in kinds or not kinds or kinds[-1] != "done":
        return False, degraded, f"stream ended with {kinds[-1:] or 'nothing'}"
    return True, degraded, ""


def run_chat_load(url: str, headers: dict, load: ChatLoad, app_pid: int) -> dict:
    result = LoadResult(rss_before_mb=rss_mb(app_pid))
    started = time.monotonic()
    asyncio.run(_drive(url, headers, load, result, started + load.duration_s))
    result.wall_s = time.monotonic() - started
    result.rss_after_mb = rss_mb(app_pid)
    return result.summary(load.clients) | {"load_error_samples": result.error_samples}


async def _drive(url: str, headers: dict, load: ChatLoad, result: LoadResult, deadline: float) -> None:
    limits = httpx.Limits(max_connections=load.clients + 5)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=load.timeout_s, limits=limits) as api:
        await asyncio.gather(*(_user(api, load.users[n % len(load.users)], n, load, result, deadline)
                               for n in range(load.clients)))


async def _user(api: httpx.AsyncClient, user: str, client: int, load: ChatLoad, result: LoadResult,
                deadline: float) -> None:
    session = f"load-{client}-{int(time.time())}"
    for turn in range(load.max_turns_per_client):
        if time.monotonic() >= deadline:
            return
        message = SCRIPT[turn % len(SCRIPT)]
        await _timed(result, "chat", api.post(f"/users/{user}/chat", json={"session_id": session, "message": message}),
                     chat=True)
        if turn % len(SCRIPT) == 3:
            await _timed(result, "profile", api.get(f"/users/{user}/profile"))
            await _timed(result, "feedback", api.post(f"/users/{user}/feedback",
                                                      json={"item_id": load.feedback_item, "positive": True}))


async def _timed(result: LoadResult, endpoint: str, request, chat: bool = False) -> None:
    started = time.monotonic()
    try:
        response = await request
    except httpx.HTTPError as error:
        result.note(endpoint, time.monotonic() - started, False, repr(error))
        return
    seconds = time.monotonic() - started
    if response.status_code != 200:
        result.note(endpoint, seconds, False, f"{response.status_code} {response.text}")
        return
    if chat:
        complete, degraded, problem = chat_outcome(response.text)
        result.degraded += degraded
        result.note(endpoint, seconds, complete, problem)
        return
    result.note(endpoint, seconds, True)
