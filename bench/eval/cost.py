"""Wall time and peak resident memory of one stage, sampled from /proc while it runs."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

import psutil


@dataclass
class StageCost:
    name: str
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # this process's user + system time: what the stage costs on an idle core
    peak_rss_mb: float = 0.0
    rss_before_mb: float = 0.0
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"seconds": round(self.seconds, 2), "cpu_seconds": round(self.cpu_seconds, 2), "peak_rss_mb": round(self.peak_rss_mb, 1),
                "rss_before_mb": round(self.rss_before_mb, 1), **self.extra}


class measure:
    """Context manager: ``with measure("train") as cost: ...`` fills ``cost`` (peak RSS of this process)."""

    def __init__(self, name: str, interval_s: float = 0.25):
        self.cost = StageCost(name)
        self._interval = interval_s
        self._process = psutil.Process(os.getpid())
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        while not self._stop.wait(self._interval):
            self.cost.peak_rss_mb = max(self.cost.peak_rss_mb, self._process.memory_info().rss / 2**20)

    def __enter__(self) -> StageCost:
        self.cost.rss_before_mb = self._process.memory_info().rss / 2**20
        self.cost.peak_rss_mb = self.cost.rss_before_mb
        self._started = time.perf_counter()
        self._cpu_started = sum(self._process.cpu_times()[:2])
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self.cost

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.cost.seconds = time.perf_counter() - self._started
        self.cost.cpu_seconds = sum(self._process.cpu_times()[:2]) - self._cpu_started
        self.cost.peak_rss_mb = max(self.cost.peak_rss_mb, self._process.memory_info().rss / 2**20)


def machine_load() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]
