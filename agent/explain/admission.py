"""Admission of explanation requests to the LLM: beyond the queue limit a list sheds its LLM work
(template explanations, flagged) instead of queueing behind others."""

from __future__ import annotations

import threading


class LLMAdmission:
    def __init__(self, limit: int):
        self._limit = limit
        self._inflight = 0
        self._lock = threading.Lock()

    def reserve(self, calls: int) -> bool:
        """Admit ``calls`` explanation requests unless the LLM queue would pass its limit."""
        with self._lock:
            if self._inflight + calls > self._limit:
                return False
            self._inflight += calls
            return True

    def release(self, calls: int) -> None:
        with self._lock:
            self._inflight -= calls

    @property
    def inflight(self) -> int:
        """Explanation requests admitted to the LLM and not finished."""
        return self._inflight
