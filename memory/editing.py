"""`MemoryEditor`: the person's edits of their memory, checked, logged and folded in.

Every edit is checked before anything is written: a node the catalog does not have, a node or
an item the user has no history under, an unpin of something not pinned, an undo with nothing
to undo: each is refused with a message that says so, and nothing changes. A kept edit is one
entry of the user's log (see :mod:`memory.edits`); where it changes how earlier events count,
the user's memory is refolded from the log and the derived rows are rewritten.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from memory.catalog import Catalog
from memory.edits import NOT_MINE_REASONS, EditKind, EditState, MemoryEdit, is_behaviour, new_edit_id
from memory.ingest import BatchWriter, ConcurrentWriteError, retried
from memory.interests import UserMemory
from memory.replay import edit_row, erased_row, needs_refold
from memory.service_models import UnknownUserError
from memory.store import ChromaStore
from memory.user_cache import UserCache


class EditRefusedError(ValueError):
    """The edit names nothing it could change; nothing was written. The message says why."""


class UnknownNodeError(EditRefusedError):
    """A node name or id the catalog's tree does not have."""


@dataclass(frozen=True)
class EditResult:
    """What an edit did: the entry logged, the memory version after it, and the events it touched."""

    edit: MemoryEdit
    version: str
    events: int  # events faded, taken out, forgotten (0 for pins)
    undone: MemoryEdit | None = None  # for an undo: the edit it took back


class MemoryEditor:
    def __init__(self, store: ChromaStore, catalog: Catalog, users: UserCache, writer: BatchWriter,
                 lock: threading.RLock):
        self._store = store
        self._catalog = catalog
        self._users = users
        self._writer = writer
        self._lock = lock

    def state(self, user: str) -> EditState:
        """The user's edits in force (empty for an unknown user)."""
        with self._lock:
            memory = self._users.load([user]).get(user)
            return memory.edits if memory is not None else EditState()

    def fade(self, user: str, nodes: Sequence[str], at: float) -> EditResult:
        """"I'm over my horror phase": the nodes' past events count less from now on."""
        with self._lock:
            memory = self._memory(user)
            self._check_nodes(nodes)
            touched = self._events_under(user, nodes)
            if not touched:
                raise EditRefusedError(f"you have no history under {self._names(nodes)}: nothing to fade")
            return self._log(memory, MemoryEdit(id=new_edit_id(user, EditKind.FADE), kind=EditKind.FADE, at=at,
                                                nodes=tuple(nodes)), len(touched))

    def not_mine(self, user: str, items: Sequence[str], reason: str, at: float) -> EditResult:
        """"Those were for my kids": the events stay but shape no interest."""
        if reason not in NOT_MINE_REASONS:
            raise EditRefusedError(f"reason {reason!r}: use one of {', '.join(NOT_MINE_REASONS)}")
        with self._lock:
            memory = self._memory(user)
            events = [row.metadata for row in self._store.user_item_events(user, items) if is_behaviour(row.metadata)]
            ids = tuple(sorted(str(m["event_id"]) for m in events if not memory.edits.excluded(str(m["event_id"]))))
            if not ids:
                raise EditRefusedError(self._not_in_history(items, memory))
            edit = MemoryEdit(id=new_edit_id(user, EditKind.NOT_MINE), kind=EditKind.NOT_MINE, at=at,
                              event_ids=ids, reason=reason)
            return self._log(memory, edit, len(ids))

    def pin(self, user: str, nodes: Sequence[str], at: float) -> EditResult:
        """"Always show me some documentaries": a standing preference."""
        with self._lock:
            memory = self._memory(user)
            self._check_nodes(nodes)
            new = [node for node in nodes if node not in memory.edits.pinned]
            if not new:
                raise EditRefusedError(f"{self._names(nodes)} is already pinned")
            return self._log(memory, MemoryEdit(id=new_edit_id(user, EditKind.PIN), kind=EditKind.PIN, at=at,
                                                nodes=tuple(new)), 0)

    def unpin(self, user: str, nodes: Sequence[str], at: float) -> EditResult:
        with self._lock:
            memory = self._memory(user)
            pinned = [node for node in nodes if node in memory.edits.pinned]
            if not pinned:
                raise EditRefusedError(f"{self._names(nodes)} is not pinned: nothing to unpin")
            return self._log(memory, MemoryEdit(id=new_edit_id(user, EditKind.UNPIN), kind=EditKind.UNPIN, at=at,
                                                nodes=tuple(pinned)), 0)

    def forget(self, user: str, items: Sequence[str], at: float) -> EditResult:
        """"Forget that I watched X": the item's events are erased from the log for good."""
        with self._lock:
            memory = self._memory(user)
            rows = [row for row in self._store.user_item_events(user, items) if is_behaviour(row.metadata)]
            if not rows:
                raise EditRefusedError(self._not_in_history(items, memory))
            full = self._store.get_events([row.id for row in rows], vectors=False)
            self._store.blank_events([erased_row(full[row.id], self._store.dimension) for row in rows])
            forgotten = len({str(row.metadata["item"]) for row in rows})
            edit = MemoryEdit(id=new_edit_id(user, EditKind.FORGET), kind=EditKind.FORGET, at=at, removed=len(rows),
                              items=forgotten)
            return self._log(memory, edit, len(rows), refold=True)

    def undo(self, user: str, at: float) -> EditResult:
        """The latest edit in force stops counting (a forget cannot come back)."""
        with self._lock:
            memory = self._memory(user)
            last = memory.edits.last_undoable()
            if last is None:
                forgot = any(edit.kind == EditKind.FORGET for edit in memory.edits.active())
                raise EditRefusedError("nothing to undo" + (": forgetting cannot be undone, the events are gone"
                                                            if forgot else ""))
            edit = MemoryEdit(id=new_edit_id(user, EditKind.UNDO), kind=EditKind.UNDO, at=at, undoes=last.id)
            result = self._log(memory, edit, 0)
            return EditResult(edit, result.version, 0, undone=last)

    # ---------------------------------------------------------------- internals
    def _log(self, memory: UserMemory, edit: MemoryEdit, touched: int, refold: bool = False) -> EditResult:
        """Append the edit to the user's log, then fold it in (refolding the log where past events change);
        another process writing the user at that moment only delays it."""
        return retried(lambda: self._append(self._memory(memory.user), edit, touched, refold))

    def _append(self, memory: UserMemory, edit: MemoryEdit, touched: int, refold: bool) -> EditResult:
        refold = refold or needs_refold(edit, memory.edits)
        row = edit_row(memory.user, edit, memory.log_seq + 1, self._store.dimension)
        self._store.add_events([row])
        stored = self._store.get_events([row.id]).get(row.id)
        if stored is None or stored.metadata.get("event_id") != edit.id:
            self._users.evict([memory.user])
            raise ConcurrentWriteError(f"another process wrote to {memory.user!r}'s memory at the same moment; the "
                                       "edit was not stored: send it again")
        if refold:
            refolded = self._writer.rebuild(memory.user)
            version = refolded.version if refolded is not None else memory.version
        else:
            memory.note_edit(edit)
            memory.log_seq = row.metadata["seq"]
            self._writer.checkpoint([memory])
            version = memory.version
        return EditResult(edit, version, touched)

    def _memory(self, user: str) -> UserMemory:
        memory = self._users.load([user]).get(user)
        if memory is None:
            raise UnknownUserError(user)
        return memory

    def _check_nodes(self, nodes: Sequence[str]) -> None:
        if not nodes:
            raise EditRefusedError("name at least one topic")
        unknown = [node for node in nodes if node not in self._catalog.topics()]
        if unknown:
            raise UnknownNodeError(f"the catalog has no topic {', '.join(map(repr, unknown))}: name one of its topics "
                                   "(GET /topics)")

    def _events_under(self, user: str, nodes: Sequence[str]) -> list[str]:
        rows = [row for row in self._store.user_events(user) if is_behaviour(row.metadata)]
        chains = self._writer.chains({str(row.metadata["item"]) for row in rows})
        wanted = set(nodes)
        return [str(row.metadata["event_id"]) for row in rows
                if any(wanted & set(chain) for chain in chains.get(str(row.metadata["item"]), ()))]

    def _names(self, nodes: Sequence[str]) -> str:
        return " and ".join(self._catalog.label(node) for node in nodes)

    def _not_in_history(self, items: Sequence[str], memory: UserMemory) -> str:
        titles = self._catalog.get_items(list(items))
        named = " / ".join(titles[item].title if item in titles else repr(item) for item in items)
        return f"{named} is not in your history: nothing was changed"

