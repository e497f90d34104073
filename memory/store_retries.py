"""Reads from a Chroma server tried again when they race another process's write.

With three API workers writing at once, a server sometimes fails a get or query that raced a
delete ("Error finding id"); the same read a moment later succeeds. Writes are never retried here
(idempotent ids make the callers' own retries safe).
"""

from __future__ import annotations

import time
from typing import Any

import chromadb.errors

READ_ATTEMPTS = 4


class StoreBusyError(RuntimeError):
    """The store kept failing a read (a server racing other writers); the request changed nothing."""


class RetryingReads:
    """A collection whose reads are tried again when a Chroma server fails one that raced another process's
    delete ("Error finding id", seen with three API workers writing at once); writes pass through as they are."""

    def __init__(self, collection: Any):
        self._collection = collection

    def __getattr__(self, name: str) -> Any:
        return getattr(self._collection, name)

    def get(self, **kwargs: Any) -> Any:
        return _read_again(self._collection.get, kwargs)

    def query(self, **kwargs: Any) -> Any:
        return _read_again(self._collection.query, kwargs)


def _read_again(read: Any, kwargs: dict[str, Any]) -> Any:
    for attempt in range(1, READ_ATTEMPTS + 1):
        try:
            return read(**kwargs)
        except chromadb.errors.InternalError as error:
            if attempt == READ_ATTEMPTS:
                raise StoreBusyError(f"the memory store failed a read {READ_ATTEMPTS} times ({error}); nothing was "
                                     "changed: send the request again") from error
            time.sleep(0.02 * attempt)
    raise AssertionError("unreachable")
