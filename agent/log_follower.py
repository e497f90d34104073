"""Following the shared log: what other workers write reaches this worker's behaviour models.

Item-kNN and popularity count each event as it arrives. A worker counts what it writes at once;
what another worker wrote (a thumbs-down, a purchase) is read from the store every
``log_poll_s`` seconds (every event row carries the wall-clock time it was logged) and counted
here too, each event once. So feedback on one worker changes every worker's co-occurrence counts
within ``log_poll_s`` plus one store query; SASRec and the forecast learn it at the next
``shiftrec train``. The memory itself needs no following: each read of a user folds in the events
logged since (memory.user_cache).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

from memory.service import InterestMemory

logger = logging.getLogger(__name__)
OVERLAP_S = 5.0  # read a little before the cursor: writers' clocks and commits are not perfectly in order
REMEMBERED = 200_000  # event ids counted, newest kept (an id older than the overlap is never read again)

Observe = Callable[[str, Sequence[str], str, float], None]  # user, history before it, item, time


class LogFollower:
    def __init__(self, memory: InterestMemory, observe: Observe, poll_s: float, since: float):
        self._memory = memory
        self._observe = observe
        self._poll_s = poll_s
        self._cursor = since - OVERLAP_S
        self._counted: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.observed = 0  # events of other processes counted here (shown by /ready)

    def counted(self, event_ids: Sequence[str]) -> None:
        """Events this process counted itself as it wrote them (never counted twice)."""
        with self._lock:
            for event_id in event_ids:
                self._remember(event_id)

    def start(self) -> LogFollower:
        if self._poll_s > 0:
            self._thread = threading.Thread(target=self._run, name="log-follower", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def poll(self) -> int:
        """Count the events logged since the last poll that this process has not counted; how many."""
        rows = self._memory.store.events_logged_since(self._cursor)
        with self._lock:
            fresh = [row for row in rows if str(row["event_id"]) not in self._counted]
            for row in fresh:
                self._remember(str(row["event_id"]))
        for row in sorted(fresh, key=lambda row: (str(row["user"]), float(row["ts"]))):
            user, ts = str(row["user"]), float(row["ts"])
            history = [event.item for event in self._memory.recent_events(user) if event.ts < ts]
            self._observe(user, history, str(row["item"]), ts)
        if rows:
            self._cursor = max(self._cursor, float(rows[-1]["at"]) - OVERLAP_S)
        self.observed += len(fresh)
        return len(fresh)

    def _run(self) -> None:
        while not self._stop.wait(self._poll_s):
            try:
                self.poll()
            except Exception as error:  # a store hiccup: the next poll reads the same window again
                logger.warning("following the log failed, will retry: %s", error)

    def _remember(self, event_id: str) -> None:
        self._counted[event_id] = None
        self._counted.move_to_end(event_id)
        while len(self._counted) > REMEMBERED:
            self._counted.popitem(last=False)


