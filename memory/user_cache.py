"""Users' memories in process: loaded from the last checkpoint plus the log tail, kept current.

Chroma holds the truth: every event row (the log; row ``event:<user key>:<seq>`` is the
user's seq-th event) and a checkpoint of the derived rows covering the first N of them.

- A user not in the cache is first probed by id (their profile row and their first
  event row, one cheap get for many users); only users that exist are read in full: the
  checkpoint rows, the event metadata (for the window, event ids and seen items) and the
  vectors of the events logged after the checkpoint, which are folded in.
- Before a cached user is used, the row of their next event (seq + 1) is looked up by
  id; if another process logged it, it and any later ones are folded in. So every call
  costs one get by id, whatever the history length, and several processes can share one
  Chroma (a user's writes should still go through one process at a time). A request
  reads a user once, as a :class:`memory.snapshot.UserSnapshot`, so it pays that probe once.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from memory.catalog import Catalog
from memory.edits import is_behaviour, is_edit
from memory.interests import MemoryMath, UserMemory
from memory.replay import fold_log
from memory.rows import Row
from memory.state_rows import (
    event_row_id,
    memory_from_rows,
    profile_row_id,
    window_event_from_metadata,
)
from memory.store import ChromaStore
from memory.taxonomy import Chain

_TAIL_STEP = 64  # ids asked for at once while a user's log tail is longer than known


class UserCache:
    def __init__(self, store: ChromaStore, catalog: Catalog, math_: MemoryMath, capacity: int):
        self._store = store
        self._catalog = catalog
        self._math = math_
        self._capacity = capacity
        self._memories: OrderedDict[str, UserMemory] = OrderedDict()

    def load(self, users: Iterable[str]) -> dict[str, UserMemory]:
        """The current memory of each user that has one (users without events are absent)."""
        wanted = sorted(set(users))
        cached = {user: self._memories[user] for user in wanted if user in self._memories}
        self._catch_up(cached)
        found = {**cached, **self._read([user for user in wanted if user not in cached])}
        for memory in found.values():
            self.put(memory)
        return found

    def put(self, memory: UserMemory) -> None:
        self._memories[memory.user] = memory
        self._memories.move_to_end(memory.user)
        while len(self._memories) > self._capacity:
            self._memories.popitem(last=False)  # its unsaved events are in the log: folded in on next load

    def evict(self, users: Iterable[str]) -> None:
        for user in users:
            self._memories.pop(user, None)

    def unsaved(self) -> list[UserMemory]:
        return [memory for memory in self._memories.values() if memory.unsaved]

    def _read(self, users: list[str]) -> dict[str, UserMemory]:
        """Users' memories from Chroma: checkpoint + log tail; users with no rows at all are skipped."""
        if not users:
            return {}
        profiles = self._store.get_state([profile_row_id(user) for user in users])
        firsts = self._store.get_events([event_row_id(user, 1) for user in users])
        exist = {str(row.metadata["user"]) for row in [*profiles.values(), *firsts.values()]} & set(users)
        if not exist:
            return {}
        state = self._store.users_state(sorted(exist))
        logged: dict[str, list[Row]] = {user: [] for user in exist}
        for row in self._store.users_events(sorted(exist)):
            logged[str(row.metadata["user"])].append(row)
        memories = {}
        for user in sorted(exist):
            memory = memory_from_rows(user, state, logged[user], self._store.dimension)
            if memory is None:  # events logged, checkpoint never written: start from nothing
                first = min((float(row.metadata["ts"]) for row in logged[user] if is_behaviour(row.metadata)),
                            default=0.0)
                memory = UserMemory(user, first, self._store.dimension)
            tail = [row.id for row in logged[user] if int(row.metadata["seq"]) > memory.log_seq]
            memories[user] = self._replay(memory, list(self._store.get_events(tail, vectors=True).values()))
        return {user: memory for user, memory in memories.items() if memory is not None}

    def _catch_up(self, memories: dict[str, UserMemory]) -> None:
        """Fold in events other processes logged after the ones each cached memory has."""
        probe = {event_row_id(user, memory.log_seq + 1): user for user, memory in memories.items()}
        behind = {probe[row_id] for row_id in self._store.get_events(list(probe))}
        while behind:
            ids = [
                event_row_id(user, memories[user].log_seq + step)
                for user in behind
                for step in range(1, _TAIL_STEP + 1)
            ]
            rows = self._store.get_events(ids, vectors=True)
            by_user: dict[str, list[Row]] = {}
            for row in rows.values():
                by_user.setdefault(str(row.metadata["user"]), []).append(row)
            for user in list(behind):
                logged = by_user.get(user, [])
                replayed = self._replay(memories[user], logged)
                if replayed is None:  # another process deleted the user meanwhile
                    self.evict([user])
                    del memories[user]
                    behind.discard(user)
                    continue
                if replayed is not memories[user] or len(logged) < _TAIL_STEP:  # refolded: the whole log is in
                    behind.discard(user)
                memories[user] = replayed

    def refold(self, user: str) -> UserMemory | None:
        """The user's memory folded again from their whole log (after an edit); nothing is written."""
        memory = fold_log(user, self._store.user_log(user, vectors=True), self._chains, self._store.dimension,
                          self._math)
        if memory is not None:
            memory.mark_saved()  # the process that wrote the edit rewrites the derived rows
        return memory

    def _chains(self, items) -> dict[str, tuple[Chain, ...]]:
        return {item: entry.pairs for item, entry in self._catalog.entries(items).items()}

    def _replay(self, memory: UserMemory, rows: list[Row]) -> UserMemory | None:
        """Fold logged events the memory lacks into it, in log order (their derived rows stay unsaved); an
        edit among them refolds the whole log (it may change how earlier events count)."""
        if any(is_edit(row.metadata) and int(row.metadata["seq"]) > memory.log_seq for row in rows):
            return self.refold(memory.user)
        entries = self._catalog.entries(str(row.metadata["item"]) for row in rows if is_behaviour(row.metadata))
        for row in sorted(rows, key=lambda row: int(row.metadata["seq"])):
            if is_behaviour(row.metadata):
                event = window_event_from_metadata(row.metadata)
                if event.event_id not in memory.event_ids:
                    memory.apply(event, entries[event.item].pairs, row.vector, self._math)
            memory.log_seq = max(memory.log_seq, int(row.metadata["seq"]))
        return memory
