"""What a person told ShiftRec to change about what it believes of them, as entries of their log.

An edit is stored like an event (the same per-user log, the same sequence numbers), so it is
exported, deleted with the user and isolated per user like any other entry, and every process
sharing the store folds it in. The kinds:

- ``fade`` ("I'm over my horror phase"): events under the node, up to the edit's moment, count
  ``fade_long`` of their weight in the long-term interests and ``fade_short`` in the short-term
  ones; history stays, the node's strength and trend drop, later events count fully again;
- ``not_mine`` ("those were for my kids", "that was a gift"): the events stay in the log (and
  stay seen) but no longer shape any interest, session or short-term window;
- ``pin`` / ``unpin`` ("always show me some documentaries"): a standing preference;
- ``forget`` ("forget that I watched X"): the item's events are deleted (each row blanked in
  place: only the user and its log position stay, so every process notices); the entry keeps
  only how many were removed (never the item), and it cannot be undone;
- ``undo``: the latest edit still in force (not a forget) stops counting.

:class:`EditState` resolves the entries into what is in force now; the memory's fold asks it
how much each event counts on each chain of nodes.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

EDIT_ACTION = "edit"  # the action of an edit's row in the log (never accepted from ingest)
ERASED_ACTION = "erased"  # a forgotten event's row: blanked in place (only user and log position stay)
NOT_BEHAVIOUR = (EDIT_ACTION, ERASED_ACTION)
FADE_LONG = 0.3  # share of a faded event's weight kept in the long-term interests
FADE_SHORT = 0.0  # ... and in the short-term ones: the person said the phase is over


class EditKind(StrEnum):
    FADE = "fade"
    NOT_MINE = "not_mine"
    PIN = "pin"
    UNPIN = "unpin"
    FORGET = "forget"
    UNDO = "undo"


NOT_MINE_REASONS = ("kids", "gift", "someone_else")


class MemoryEdit(BaseModel):
    """One entry of the user's edit log."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="Unique id of the edit (`edit-...`).")
    kind: EditKind
    at: float = Field(description="Moment of the edit, epoch seconds on the user's clock.")
    nodes: tuple[str, ...] = Field(default=(), description="Interest nodes a fade, pin or unpin names.")
    event_ids: tuple[str, ...] = Field(default=(), description="Events a not_mine edit takes out of the interests.")
    reason: str | None = Field(default=None, description="not_mine: kids, gift or someone_else.")
    undoes: str | None = Field(default=None, description="undo: the id of the edit it undoes.")
    removed: int = Field(default=0, description="forget: how many events were deleted (the item is not kept).")
    items: int = Field(default=0, description="forget: how many items were forgotten.")

    def to_json(self) -> str:
        return self.model_dump_json(exclude_defaults=True)

    @classmethod
    def from_json(cls, text: str) -> MemoryEdit:
        return cls.model_validate(json.loads(text))


def new_edit_id(user: str, kind: EditKind, salt: str = "") -> str:
    """A fresh id (the same words said twice are two edits: undo takes back one at a time)."""
    key = f"{user}\x1f{kind}\x1f{salt}\x1f{time.time_ns()}"
    return "edit-" + hashlib.sha1(key.encode()).hexdigest()[:20]


@dataclass(frozen=True)
class Fade:
    node: str
    until: float  # events at or before this moment fade
    edit_id: str


@dataclass
class EditState:
    """The edits in force, resolved from the log (undone edits and undos themselves drop out)."""

    log: list[MemoryEdit] = field(default_factory=list)
    fades: list[Fade] = field(default_factory=list)
    not_mine: dict[str, str] = field(default_factory=dict)  # event id -> the edit that took it out
    pinned: dict[str, str] = field(default_factory=dict)  # node -> the pin's edit id
    undone: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, edits: Iterable[MemoryEdit]) -> EditState:
        state = cls()
        for edit in edits:
            state.log.append(edit)
        state._resolve()
        return state

    def with_edit(self, edit: MemoryEdit) -> EditState:
        return EditState.of([*self.log, edit])

    @property
    def empty(self) -> bool:
        return not self.log

    def active(self) -> list[MemoryEdit]:
        """Edits in force, oldest first (forgets included: they stay done)."""
        return [edit for edit in self.log if edit.kind != EditKind.UNDO and edit.id not in self.undone]

    def last_undoable(self) -> MemoryEdit | None:
        """What "undo that" takes back: the latest edit in force that can be undone."""
        return next((edit for edit in reversed(self.active()) if edit.kind != EditKind.FORGET), None)

    def excluded(self, event_id: str) -> bool:
        return event_id in self.not_mine

    def chain_factor(self, ts: float, chain: Sequence[str], short: bool = False) -> float:
        """How much an event at ``ts`` counts on one chain of nodes (1 unless a fade covers it)."""
        factor = 1.0
        for fade in self.fades:
            if ts <= fade.until and fade.node in chain:
                factor *= FADE_SHORT if short else FADE_LONG
        return factor

    @property
    def faded_nodes(self) -> list[str]:
        return list(dict.fromkeys(fade.node for fade in self.fades))

    def _resolve(self) -> None:
        self.undone = {edit.undoes for edit in self.log if edit.kind == EditKind.UNDO and edit.undoes}
        self.fades, self.not_mine, self.pinned = [], {}, {}
        for edit in self.active():
            if edit.kind == EditKind.FADE:
                self.fades += [Fade(node, edit.at, edit.id) for node in edit.nodes]
            elif edit.kind == EditKind.NOT_MINE:
                self.not_mine.update(dict.fromkeys(edit.event_ids, edit.id))
            elif edit.kind == EditKind.PIN:
                self.pinned.update(dict.fromkeys(edit.nodes, edit.id))
            elif edit.kind == EditKind.UNPIN:
                for node in edit.nodes:
                    self.pinned.pop(node, None)


def is_behaviour(metadata: Mapping[str, Any]) -> bool:
    """Whether a row of the log is a behaviour event (not an edit, not a forgotten event's blank)."""
    return metadata.get("action") not in NOT_BEHAVIOUR


def is_edit(metadata: Mapping[str, Any]) -> bool:
    """Whether a row of the log is an edit (else it is a behaviour event)."""
    return metadata.get("action") == EDIT_ACTION


def edits_in(rows: Iterable[Any]) -> list[MemoryEdit]:
    """The edits among log rows (anything with ``metadata``), in log order."""
    ordered = sorted((row for row in rows if is_edit(row.metadata)), key=lambda row: int(row.metadata["seq"]))
    return [MemoryEdit.from_json(str(row.metadata["edit"])) for row in ordered]
