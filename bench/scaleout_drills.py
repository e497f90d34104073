"""What several workers over one store must do, each as a drill that returns what happened: a session
started on one worker goes on on another, a record made by one is answered by another, feedback on
one changes the next answer on another (and reaches its item-kNN within the log poll), two workers
writing one user at once keep every event, and a worker killed with -9 under load loses no
acknowledged event while every request to the others succeeds."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx

FOLLOW_BOUND_S = 10.0  # feedback reaches every worker's item-kNN within this (log poll 2 s + a store query)


def chat(url: str, user: str, session: str, message: str) -> list[dict]:
    """One chat turn over server-sent events: the events as dicts (``kind`` and the rest)."""
    events = []
    with httpx.stream("POST", f"{url}/users/{user}/chat", json={"session_id": session, "message": message},
                      timeout=120) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if line.startswith("data:"):
                events.append(json.loads(line[5:]))
    return events


def session_continuity(urls: list[str], user: str) -> float:
    """A conversation hopping worker to worker: list on one, why and a refinement on the others."""
    session = f"hop-{uuid.uuid4().hex[:8]}"
    listed = chat(urls[0], user, session, "recommend something")
    second = next(e for e in listed if e["kind"] == "recommendations")["record"]["items"][1]["item_id"]
    why = [e for e in chat(urls[1 % len(urls)], user, session, "why the second one?") if e["kind"] == "why"]
    refined = chat(urls[2 % len(urls)], user, session, "give me 3 picks")
    lists = [e for e in refined if e["kind"] == "recommendations"]
    ok = bool(why) and why[0]["item_id"] == second and lists and len(lists[0]["record"]["items"]) == 3
    return 1.0 if ok else 0.0


def cross_worker_why(urls: list[str], user: str) -> float:
    record = httpx.post(f"{urls[0]}/users/{user}/recommendations", json={"count": 3}, timeout=120).json()
    answers = [httpx.get(f"{url}/users/{user}/recommendations/{record['id']}/items/{record['items'][0]['item_id']}/why",
                         timeout=60) for url in urls[1:]]
    return sum(a.status_code == 200 and record["items"][0]["title"] in a.json()["text"] for a in answers) / len(answers)


def cross_worker_feedback(urls: list[str], user: str) -> tuple[float, float | None]:
    """(1.0 if the next answer elsewhere left the disliked item out, seconds until every other worker counted
    the feedback into its item-kNN; None if not within FOLLOW_BOUND_S)."""
    before = {url: _followed(url) for url in urls}
    top = httpx.post(f"{urls[0]}/users/{user}/recommendations", json={"count": 5, "explain": False},
                     timeout=120).json()["items"][0]["item_id"]
    sent = time.monotonic()
    assert httpx.post(f"{urls[1]}/users/{user}/feedback", json={"item_id": top, "positive": False},
                      timeout=60).status_code == 200
    after = httpx.post(f"{urls[-1]}/users/{user}/recommendations", json={"count": 5, "explain": False},
                       timeout=120).json()["items"]
    changed = 1.0 if top not in [entry["item_id"] for entry in after] else 0.0
    others = [url for url in urls if url != urls[1]]
    while time.monotonic() - sent < FOLLOW_BOUND_S:
        if all(_followed(url) > before[url] for url in others):
            return changed, round(time.monotonic() - sent, 2)
        time.sleep(0.2)
    return changed, None


def concurrent_writes(urls: list[str], items: list[str], count: int = 40) -> dict:
    """Two workers writing one new user at the same moment, one event per request: every event kept?"""
    user = f"race-{uuid.uuid4().hex[:6]}"
    events = [{"id": f"{user}-{n}", "user": user, "item": items[n % len(items)], "action": "view",
               "timestamp": 1_700_000_000 + n} for n in range(count)]

    def send(index: int) -> int:
        url = urls[index % 2]
        return httpx.post(f"{url}/events", json={"events": [events[index]]}, timeout=120).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = Counter(pool.map(send, range(count)))
    stored = {e["event_id"] for e in httpx.get(f"{urls[-1]}/users/{user}/export", timeout=60).json()["events"]}
    return {"sent": count, "statuses": dict(statuses), "stored": len(stored),
            "lost": sorted(e["id"] for e in events if e["id"] not in stored)}


@dataclass
class KillLog:
    acknowledged: list[tuple[str, str]] = field(default_factory=list)  # (user, event id) answered 200
    failures: Counter = field(default_factory=Counter)  # url -> failed requests
    requests: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


def kill_under_load(cluster, victim: int, items: list[str], user_prefix: str, seconds: float = 12.0) -> dict:
    """Writers and readers on every worker; ``victim`` is killed with -9 half-way. Then: acknowledged events
    lost, failed requests to the other workers, and whether the victim's sessions go on elsewhere."""
    urls, log = list(cluster.urls), KillLog()
    sessions = [(f"{user_prefix}-s{n}", f"{user_prefix}-u{n}") for n in range(3)]
    for number, (session, user) in enumerate(sessions):  # a history, then a conversation on the victim
        _post(urls[victim], {"events": [{"id": f"{user}-seed-{k}", "user": user, "item": items[(number + k) % len(items)],
                                         "action": "like", "timestamp": 1_700_000_000 + k} for k in range(5)]})
        chat(urls[victim], user, session, "recommend something")
    stop, killed = threading.Event(), threading.Event()

    def writer(worker: int) -> None:
        for n in range(10_000):
            if stop.is_set():
                return
            url, user = urls[(worker + n) % len(urls)], f"{user_prefix}-w{worker}"
            event_id = f"{user}-{n}-{uuid.uuid4().hex[:6]}"
            body = {"events": [{"id": event_id, "user": user, "item": items[n % len(items)], "action": "view",
                                "timestamp": 1_700_000_100 + n}]}
            ok = _post(url, body) == 200
            with log.lock:
                log.requests[url] += 1
                if ok:
                    log.acknowledged.append((user, event_id))
                elif url != urls[victim] or not killed.is_set():
                    log.failures[url] += 1

    threads = [threading.Thread(target=writer, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(seconds / 2)
    cluster.kill(victim)
    killed.set()
    time.sleep(seconds / 2)
    stop.set()
    for thread in threads:
        thread.join()
    living = [url for index, url in enumerate(urls) if index != victim]
    stored: dict[str, set[str]] = {}
    for user in {user for user, _ in log.acknowledged}:
        export = httpx.get(f"{living[0]}/users/{user}/export", timeout=120).json()
        stored[user] = {event["event_id"] for event in export["events"]}
    lost = [event for user, event in log.acknowledged if event not in stored.get(user, set())]
    continued = sum(bool([e for e in chat(living[n % len(living)], user, session, "why the first one?")
                          if e["kind"] == "why"]) for n, (session, user) in enumerate(sessions))
    return {"acknowledged": len(log.acknowledged), "events_lost": len(lost),
            "failed_requests_outside_killed_worker": sum(n for url, n in log.failures.items() if url != urls[victim]),
            "requests_per_worker": {url: log.requests[url] for url in urls},
            "victim_sessions_continued": continued / len(sessions)}


def _post(url: str, body: dict) -> int:
    try:
        return httpx.post(f"{url}/events", json=body, timeout=30).status_code
    except httpx.HTTPError:
        return 0


def _followed(url: str) -> int:
    return int(httpx.get(f"{url}/ready", timeout=10).json().get("events_followed", 0))
