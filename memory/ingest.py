"""Writing events: one code path for a single online event and for bulk batches.

A batch is all or nothing. Everything that can be wrong with the input (an unknown item,
an action without a weight) is found before anything is written; then the batch's event
rows go to Chroma in one add, which stores all of them or none. The event rows are the
log; the derived rows (interests, sessions, profile) are a checkpoint written after the
events, every batch in bulk and every ``state_checkpoint_events`` events online. If that
write fails the events are still safe and the next load folds them in again. Re-sent
event ids (per user) are skipped, also within one batch.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from pydantic import BaseModel

from memory.catalog import Catalog, CatalogEntry
from memory.interests import MemoryMath, UserMemory, WindowEvent
from memory.models import Event
from memory.replay import fold_log
from memory.rows import Row
from memory.settings import MemorySettings
from memory.state_rows import (
    all_rows,
    changed_rows,
    event_row,
    lock_row_id,
    profile_row_id,
)
from memory.store import ChromaStore
from memory.taxonomy import Chain
from memory.user_cache import UserCache

_ERRORS_LISTED = 5
WRITE_ATTEMPTS = 8  # racing writers of one user: each retry folds the winner in first
T = TypeVar("T")
CHECKPOINT_LOCK_S = 10.0  # a checkpoint lock older than this belonged to a process that died
logger = logging.getLogger(__name__)


class IngestError(ValueError):
    """The batch was refused before anything was written; the message names the rows."""


class MemoryWriteError(RuntimeError):
    """Chroma failed to store a batch's events; nothing of the batch was kept."""


class ConcurrentWriteError(MemoryWriteError):
    """Two processes wrote the same user's next event at once; resend (nothing of this batch was kept)."""


def retried(write: Callable[[], T], attempts: int = WRITE_ATTEMPTS) -> T:
    """``write`` again after another process wrote the same user at the same moment (the loser's batch was
    taken back whole and its users reloaded, so the next attempt folds the winner's events in first)."""
    for attempt in range(1, attempts + 1):
        try:
            return write()
        except ConcurrentWriteError:
            if attempt == attempts:
                raise
            logger.info("another process wrote the same user at once: writing again (attempt %d)", attempt + 1)
            time.sleep(random.uniform(0.005, 0.03) * attempt)
    raise AssertionError("unreachable")


class IngestReport(BaseModel):
    received: int
    applied: int
    duplicates: int
    batches: int
    users: int
    seconds: float
    events_per_s: float


@dataclass(frozen=True)
class BatchResult:
    applied: int
    duplicates: int
    versions: dict[str, str]  # memory version of every user the batch touched


def event_weight(event: Event, settings: MemorySettings) -> float:
    """Signed weight of an event: ratings via ``rating_weights`` (nearest key, after mapping the catalog's
    ``rating_scale`` onto 1 to 5), others via ``action_weights``."""
    if event.action == "rate":
        assert event.value is not None  # Event guarantees a value for 'rate'
        low, high = settings.rating_scale
        on_five = 1.0 + 4.0 * (event.value - low) / (high - low)
        nearest = min(settings.rating_weights, key=lambda key: (abs(key - on_five), key))
        return float(settings.rating_weights[nearest])
    try:
        return float(settings.action_weights[event.action])
    except KeyError:
        raise KeyError(f"no weight for action {event.action!r}: add it to SHIFTREC_MEMORY__ACTION_WEIGHTS") from None


def rating_outside_scale(event: Event, scale: tuple[float, float]) -> str | None:
    """Why a 'rate' event's value cannot be stored under the catalog's scale; None when it can."""
    low, high = scale
    if event.action != "rate" or event.value is None or low <= event.value <= high:
        return None
    return (f"rating {event.value:g} is outside this catalog's rating scale {low:g} to {high:g} "
            "(SHIFTREC_MEMORY__RATING_SCALE)")


class BatchWriter:
    def __init__(self, store: ChromaStore, catalog: Catalog, users: UserCache, settings: MemorySettings,
                 math_: MemoryMath):
        self._store = store
        self._catalog = catalog
        self._users = users
        self._settings = settings
        self.math = math_

    def write(
        self, events: Sequence[Event], first_position: int = 0, checkpoint_every: int = 1, verify: bool = False
    ) -> BatchResult:
        """Store and apply the new events of a batch; ``verify`` re-reads the rows to catch a racing writer."""
        entries = self._catalog.entries(event.item for event in events)
        weights = self._check(events, entries, first_position)
        memories = self._users.load(event.user for event in events)
        first_seen: dict[str, float] = {}
        for event in events:
            first_seen[event.user] = min(first_seen.get(event.user, event.epoch), event.epoch)
        event_rows: list[Row] = []
        touched: dict[str, UserMemory] = {}
        for event, weight in zip(events, weights):
            memory = memories.get(event.user)
            if memory is None:
                memory = memories[event.user] = UserMemory(event.user, first_seen[event.user], self._store.dimension)
            if event.id in memory.event_ids:
                continue  # re-sent (earlier, or earlier in this batch): changes nothing
            entry = entries[event.item]
            window_event = WindowEvent(event.epoch, event.id, event.item, event.action, event.value, weight)
            memory.apply(window_event, entry.pairs, entry.vector, self.math)
            memory.log_seq += 1
            event_rows.append(event_row(event.user, window_event, entry.vector, seq=memory.log_seq))
            touched[event.user] = memory
        if not event_rows:
            return BatchResult(0, len(events), {})
        try:
            self._store.add_events(event_rows)
            if verify:
                self._verify(event_rows)
        except Exception as error:  # storage failed: forget the in-process changes too
            self._users.evict(touched)
            if isinstance(error, ConcurrentWriteError):
                raise
            self._forget([row.id for row in event_rows])
            raise MemoryWriteError(f"storing the batch's events failed, nothing was written: {error}") from error
        for memory in touched.values():
            self._users.put(memory)
        self.checkpoint([memory for memory in touched.values() if memory.unsaved >= checkpoint_every])
        versions = {user: memory.version for user, memory in touched.items()}
        return BatchResult(len(event_rows), len(events) - len(event_rows), versions)

    def _verify(self, rows: list[Row]) -> None:
        """Chroma's add keeps an existing id silently: check each row holds our event, not a rival's."""
        stored = self._store.get_events([row.id for row in rows])
        lost = [row for row in rows if stored.get(row.id, row).metadata.get("event_id") != row.metadata["event_id"]]
        if lost:
            kept = {row.id for row in lost}
            self._forget([row.id for row in rows if row.id not in kept])  # ours that did land: take them back
            users = sorted({str(row.metadata["user"]) for row in lost})
            raise ConcurrentWriteError(
                f"another process logged events for {', '.join(users)} at the same moment; this batch was not "
                "stored: send it again (the memory has been reloaded)"
            )

    def checkpoint(self, memories: Sequence[UserMemory]) -> None:
        """Write these users' derived rows; if Chroma fails they stay pending (the log has the events). On a
        shared store each user's checkpoint is written under that user's lock and never over a newer one."""
        if not memories:
            return
        if self._store.shared:
            for memory in memories:
                self._checkpoint_shared(memory)
            return
        rows, deletions = self._state_changes(memories)
        try:
            self._store.upsert_state(rows)
            self._store.delete_state(deletions)
        except Exception as error:  # never lose the batch over a checkpoint: the next load replays the log
            logger.warning("checkpoint of %d user(s) failed, will retry; events are safe: %s", len(memories), error)
            return
        for memory in memories:
            memory.mark_saved()

    def _checkpoint_shared(self, memory: UserMemory) -> None:
        """Another process may be checkpointing the same user: one at a time, and only forwards (a checkpoint
        over a newer one would leave rows of two different moments side by side)."""
        lock, owner = lock_row_id(memory.user), uuid.uuid4().hex
        if not self._store.try_lock(lock, memory.user, owner, CHECKPOINT_LOCK_S):
            return  # the other process is writing a newer one; ours stays pending
        try:
            stored = self._store.get_state([profile_row_id(memory.user)]).get(profile_row_id(memory.user))
            if stored is not None and int(stored.metadata.get("seq", 0)) > memory.log_seq:
                self._users.evict([memory.user])  # we are behind: the next load reads theirs
                return
            rows, deletions = self._state_changes([memory])
            self._store.upsert_state(rows)
            self._store.delete_state(deletions)
            memory.mark_saved()
        except Exception as error:  # never lose the batch over a checkpoint: the next load replays the log
            logger.warning("checkpoint of 1 user(s) failed, will retry; events are safe: %s", error)
        finally:
            self._store.unlock(lock, owner)

    def rebuild(self, user: str) -> UserMemory | None:
        """Refold the user's whole log (events under the edits in force) into fresh derived rows: repair, new
        weights' topics, or an edit that changes how past events count."""
        self._users.evict([user])
        rows = self._store.user_log(user, vectors=True)
        self._store.delete_state(self._store.state_ids_of(user))
        memory = fold_log(user, rows, self.chains, self._store.dimension, self.math)
        if memory is None:
            return None
        self._store.upsert_state(all_rows(memory, self.math, self._item_vector, self._topic_vector))
        memory.mark_saved()
        self._users.put(memory)
        return memory

    def chains(self, items: Iterable[str]) -> dict[str, tuple[Chain, ...]]:
        """Each item's chains of interest nodes."""
        return {item: entry.pairs for item, entry in self._catalog.entries(items).items()}

    def _check(self, events: Sequence[Event], entries: dict[str, CatalogEntry], first_position: int) -> list[float]:
        problems: list[str] = []
        weights: list[float] = []
        for position, event in enumerate(events, start=first_position):
            where = f"event #{position} (id {event.id!r}, user {event.user!r})"
            if event.item not in entries:
                problems.append(f"{where}: item {event.item!r} is not in the catalog; add it with add_items() first")
            outside = rating_outside_scale(event, self._settings.rating_scale)
            if outside:
                problems.append(f"{where}: field 'value': {outside}")
            try:
                weights.append(event_weight(event, self._settings))
            except KeyError as error:
                problems.append(f"{where}: {error.args[0]}")
        if problems:
            listed = "\n  - ".join(problems[:_ERRORS_LISTED])
            more = f"\n  ... and {len(problems) - _ERRORS_LISTED} more" if len(problems) > _ERRORS_LISTED else ""
            raise IngestError(f"batch refused, nothing written ({len(problems)} problem(s)):\n  - {listed}{more}")
        return weights

    def _state_changes(self, memories: Sequence[UserMemory]) -> tuple[list[Row], list[str]]:
        window_items = {event.item for memory in memories for event in memory.window}
        self._catalog.entries(window_items)  # one read for the window items the cache lacks
        rows: list[Row] = []
        deletions: list[str] = []
        for memory in memories:
            changed, removed = changed_rows(memory, self.math, self._item_vector, self._topic_vector)
            rows += changed
            deletions += removed
        return rows, deletions

    def _item_vector(self, item: str) -> np.ndarray:
        vector = self._catalog.vector(item)
        return vector if vector is not None else np.zeros(self._store.dimension, dtype=np.float32)

    def _topic_vector(self, node: str) -> np.ndarray:
        topic = self._catalog.topics().get(node)
        if topic is not None:
            return topic.vector
        return np.full(self._store.dimension, self._store.dimension**-0.5, dtype=np.float32)

    def _forget(self, event_ids: list[str]) -> None:
        """Best effort after a failed add (which Chroma makes all-or-nothing per call anyway)."""
        try:
            self._store.delete_events(event_ids)
        except Exception as error:  # the store is failing; report the original error, note this one
            logger.warning("could not remove the rows of a failed batch: %s", error)
