"""Refolding one user's memory from their stored log: events and edits, exactly.

Needed where an edit changes how past events count (a fade, "not mine", an undo, a
forget): the incremental fold cannot take a contribution back, so the user's events are
folded again from the log under the edits in force. A user's log is hundreds to a few
thousand rows, so this is milliseconds to a second, and only on an edit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from memory.edits import EDIT_ACTION, ERASED_ACTION, EditKind, EditState, MemoryEdit, edits_in, is_behaviour
from memory.interests import MemoryMath, UserMemory
from memory.rows import Metadata, Row
from memory.state_rows import event_row_id, window_event_from_metadata
from memory.taxonomy import Chain

ChainsOf = Callable[[Sequence[str]], dict[str, tuple[Chain, ...]]]
REFOLDING_KINDS = frozenset({EditKind.FADE, EditKind.NOT_MINE, EditKind.UNDO, EditKind.FORGET})


def edit_row(user: str, edit: MemoryEdit, seq: int, dimension: int) -> Row:
    """The edit as an entry of the user's log (a constant unit vector: nothing searches edits by meaning)."""
    metadata: Metadata = {
        "user": user, "seq": seq, "event_id": edit.id, "item": "", "action": EDIT_ACTION, "weight": 0.0,
        "ts": edit.at, "edit": edit.to_json(),
    }
    return Row(event_row_id(user, seq), np.full(dimension, dimension**-0.5, dtype=np.float32), metadata)


def erased_row(row: Row, dimension: int) -> Row:
    """A forgotten event's row, blanked: the user and the log position stay (other processes see the log
    move on), nothing of the item, the time or the action."""
    metadata: Metadata = {"user": row.metadata["user"], "seq": row.metadata["seq"], "event_id": "",
                          "item": "", "action": ERASED_ACTION, "weight": 0.0, "ts": 0.0}
    return Row(row.id, np.full(dimension, dimension**-0.5, dtype=np.float32), metadata)


def needs_refold(edit: MemoryEdit, state: EditState) -> bool:
    """Whether taking ``edit`` in changes how logged events count (pins do not; undoing a pin neither)."""
    if edit.kind == EditKind.UNDO:
        undone = next((e for e in state.log if e.id == edit.undoes), None)
        return undone is not None and undone.kind in REFOLDING_KINDS
    return edit.kind in REFOLDING_KINDS


def fold_log(user: str, rows: Sequence[Row], chains_of: ChainsOf, dimension: int,
             math_: MemoryMath) -> UserMemory | None:
    """The user's memory from every row of their log (events with their vectors, and edits); None when the
    log holds no event."""
    events = [row for row in rows if is_behaviour(row.metadata)]
    if not events:
        return None
    decoded = [(window_event_from_metadata(row.metadata), row.vector) for row in events]
    chains = chains_of([event.item for event, _ in decoded])
    memory = UserMemory(user, min(event.ts for event, _ in decoded), dimension)
    for edit in edits_in(rows):
        memory.note_edit(edit)
    for event, vector in sorted(decoded, key=lambda pair: pair[0]):
        memory.apply(event, chains[event.item], vector, math_)
    memory.log_seq = max(int(row.metadata["seq"]) for row in rows)
    return memory
