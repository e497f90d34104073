"""Fault drills against real servers: the LLM killed and brought back, the Chroma server killed and
restarted under writes, the bulk ingest killed with -9. Each drill returns plain numbers that
tests/integration/test_faults.py asserts on and ``shiftrec bench reliability`` records.
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from serving.llm_server import EmbeddedLLMServer


# ---------------------------------------------------------------- the LLM
def answer_signature(record: dict) -> list[tuple[str, str]]:
    """What a person sees of a recommendation (items and reasons), without ids and times."""
    return [(entry["item_id"], (entry.get("explanation") or {}).get("reason", "")) for entry in record["items"]]


def llm_outage(url: str, headers: dict, user: str, server: EmbeddedLLMServer, llm_queue: Callable[[], int],
               down_s: float = 5.0, give_up_s: float = 120.0) -> dict:
    """Kill vLLM while it writes explanations, ask while it is down, start it again, and time how long
    after its /health answers the first fully explained (not degraded) answer comes back."""
    body = {"count": 3}
    with httpx.Client(base_url=url, headers=headers, timeout=300) as api:
        healthy = api.post(f"/users/{user}/recommendations", json=body).json()
        in_flight: dict = {}
        asking = threading.Thread(target=lambda: in_flight.update(
            api.post(f"/users/{user}/recommendations", json=body).json()))
        asking.start()
        _wait_for(lambda: llm_queue() > 0, 60)
        os.killpg(server.pid, signal.SIGKILL)  # mid-request, no goodbye
        asking.join()
        server.stop()  # reap the group
        down_started = time.monotonic()
        outage = []
        while time.monotonic() - down_started < down_s or len(outage) < 2:
            outage.append(api.post(f"/users/{user}/recommendations", json=body))
        readiness = api.get("/ready").json()
        restarted = EmbeddedLLMServer(server.settings)
        starter = threading.Thread(target=restarted.start)
        starter.start()
        health_at = _wait_for(lambda: _answers(restarted.health_url), server.settings.server.startup_timeout_s)
        first_full, attempts = None, 0
        while first_full is None and time.monotonic() - health_at < give_up_s:
            attempts += 1
            answer = api.post(f"/users/{user}/recommendations", json=body).json()
            first_full = time.monotonic() if not answer["degraded"] else None
        starter.join()
    return {
        "healthy_degraded": healthy["degraded"],
        "in_flight_status": "answered" if in_flight.get("items") else "failed",
        "in_flight_degraded": in_flight.get("degraded"),
        "outage_statuses": sorted({response.status_code for response in outage}),
        "outage_answers": len(outage),
        "outage_degraded": all(response.json().get("degraded") for response in outage),
        "outage_reasons": sorted({reason for r in outage for reason in r.json().get("degraded_reasons", [])}),
        "outage_deterministic": len({str(answer_signature(r.json())) for r in outage}) == 1,
        "ready_while_down": readiness["status"],
        "llm_recovery_s": round(first_full - health_at, 2) if first_full else None,
        "recovery_attempts": attempts,
        "server": restarted,
    }


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _wait_for(condition: Callable[[], bool], timeout_s: float, poll_s: float = 0.05) -> float:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout_s:.0f} s")
        time.sleep(poll_s)
    return time.monotonic()


# ---------------------------------------------------------------- the Chroma server
@dataclass
class WriteLog:
    """Every event write sent during the drill and how the API answered it."""

    acknowledged: list[tuple[str, str]] = field(default_factory=list)  # (user, event id)
    refused: dict[int, int] = field(default_factory=dict)
    refusal_types: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, user: str, event_id: str, response: httpx.Response) -> None:
        with self.lock:
            if response.status_code == 200:
                self.acknowledged.append((user, event_id))
                return
            self.refused[response.status_code] = self.refused.get(response.status_code, 0) + 1
            try:
                self.refusal_types.add(response.json()["error"]["type"])
            except (ValueError, KeyError, TypeError):
                self.refusal_types.add(f"untyped: {response.text[:80]}")


def chroma_restart_under_writes(url: str, headers: dict, chroma: subprocess.Popen, items: list[str],
                                writers: int = 4, before_acks: int = 25, down_s: float = 3.0, after_acks: int = 30,
                                most_s: float = 90.0) -> tuple[WriteLog, subprocess.Popen]:
    """``writers`` clients post single events while the Chroma server is killed (-9) and started again
    on the same port and folder; returns every answer and the new server process. The kill waits for
    ``before_acks`` acknowledged writes and the drill ends ``after_acks`` after the restart (counts, not
    seconds: a busy machine writes slower, and the drill must still cover enough writes on both sides)."""
    log, stop = WriteLog(), threading.Event()

    def write(worker: int) -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=60) as api:
            sequence = 0
            while not stop.is_set():
                sequence += 1
                user, event_id = f"writer{worker}", f"w{worker}-{sequence}"
                event = {"id": event_id, "user": user, "item": items[sequence % len(items)], "action": "view",
                         "timestamp": 1_700_000_000 + sequence}
                try:
                    log.note(user, event_id, api.post("/events", json={"events": [event]}))
                except httpx.HTTPError:
                    log.refused[0] = log.refused.get(0, 0) + 1  # no answer at all: not acknowledged either
                time.sleep(0.02)

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(writers)]
    for thread in threads:
        thread.start()
    try:
        _wait_for(lambda: len(log.acknowledged) >= before_acks, most_s, 0.1)
        chroma.kill()
        chroma.wait()
        time.sleep(down_s)
        restarted = subprocess.Popen(chroma.args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port = re.search(r"--port', '(\d+)", str(chroma.args)).group(1)
        _wait_for(lambda: _answers(f"http://127.0.0.1:{port}/api/v2/heartbeat"), 60, 0.2)
        restarted_at = len(log.acknowledged)
        _wait_for(lambda: len(log.acknowledged) >= restarted_at + after_acks, most_s, 0.1)
    finally:  # the writers stop whatever happened, so a failed drill never hangs its caller
        stop.set()
        for thread in threads:
            thread.join()
    return log, restarted


# ---------------------------------------------------------------- the bulk ingest
INGEST_PROGRESS = re.compile(rb"ingesting events:\s+\d+%\|[^|]*\|\s*(\d+)/(\d+)")


def run_ingest(data_dir: Path, items: Path, events: Path, batch_size: int,
               kill_after_events: int | None = None) -> tuple[int, str]:
    """``shiftrec ingest`` as a child process on ``data_dir``; with ``kill_after_events`` it gets SIGKILL
    once its progress bar has passed that many events. Returns (exit code, output)."""
    env = os.environ | {"SHIFTREC_DATA_DIR": str(data_dir), "SHIFTREC_MEMORY__INGEST_BATCH_SIZE": str(batch_size)}
    command = [sys.executable, "-c", "from serving.cli import main; main()", "ingest", "--items", str(items),
               "--events", str(events)]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    output = bytearray()
    while chunk := child.stdout.read1(4096):
        output += chunk
        done = [int(m.group(1)) for m in INGEST_PROGRESS.finditer(bytes(output[-2000:]))]
        if kill_after_events is not None and done and max(done) >= kill_after_events:
            child.send_signal(signal.SIGKILL)
            break
    child.stdout.close()
    return child.wait(), output.decode(errors="replace")


def ingest_kill_drill(folder: Path, items: list[dict], events: list[dict], batch_size: int,
                      count_events: Callable[[Path], list[str]]) -> dict:
    """Write the files, kill `shiftrec ingest` after two batches, count what is stored, run it again
    twice, and count again. ``count_events(data_dir)`` lists the stored event ids (one per row)."""
    items_file, events_file, data_dir = folder / "items.jsonl", folder / "events.csv", folder / "data"
    items_file.write_text("".join(json.dumps(item) + "\n" for item in items))
    with events_file.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "user", "item", "action", "value", "timestamp"])
        writer.writeheader()
        writer.writerows(events)
    killed_code, killed_output = run_ingest(data_dir, items_file, events_file, batch_size, 2 * batch_size)
    partial = count_events(data_dir)
    rerun_code, rerun_output = run_ingest(data_dir, items_file, events_file, batch_size)
    after_rerun = count_events(data_dir)
    again_code, again_output = run_ingest(data_dir, items_file, events_file, batch_size)
    final = count_events(data_dir)
    expected = {event["id"] for event in events}
    return {
        "killed_exit_code": killed_code,
        "events_in_file": len(expected),
        "stored_after_kill": len(partial),
        "whole_batches_after_kill": len(partial) % batch_size == 0,
        "rerun_exit_code": rerun_code,
        "rerun_report": _ingest_report(rerun_output),
        "again_report": _ingest_report(again_output),
        "again_exit_code": again_code,
        "stored_after_rerun": len(after_rerun),
        "stored_finally": len(final),
        "duplicate_rows": len(final) - len(set(final)),
        "missing_events": len(expected - set(final)),
        "unexpected_events": len(set(final) - expected),
        "output_tail": (killed_output + rerun_output + again_output)[-1500:],
    }


INGEST_REPORT = re.compile(r"events: (\d+) stored, (\d+) already there")


def _ingest_report(output: str) -> tuple[int, int] | None:
    """(stored, already there) from the last line of `shiftrec ingest`."""
    found = INGEST_REPORT.findall(output)
    return (int(found[-1][0]), int(found[-1][1])) if found else None
