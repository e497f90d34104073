"""`UserSnapshot`: one user's memory as one request sees it, read once and never changed.

A recommendation used to ask the memory for the same user five times (version, recent
events, seen items twice, the event vectors for evidence), each a separate read that
another writer could change in between. The pipeline now takes this one consistent view
as an argument, which is also what several API workers over one store need.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from memory.edits import EditState
from memory.interests import WindowEvent
from memory.rows import Row
from memory.service_models import EMPTY_VERSION, InterestKind, InterestVector


@dataclass(frozen=True)
class UserSnapshot:
    """What a turn needs of one user: version, latest events, seen and disliked items, the
    interest vectors to search candidates from, every event with its vector (to cite as evidence;
    events the person said were not theirs left out) and the edits in force."""

    user: str
    version: str = EMPTY_VERSION
    recent: tuple[WindowEvent, ...] = ()
    seen: frozenset[str] = frozenset()
    disliked: frozenset[str] = frozenset()
    interests: Mapping[InterestKind, tuple[InterestVector, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    history: tuple[Row, ...] = ()
    edits: EditState = field(default_factory=EditState)  # what the person changed: pins, fades, ...

    @property
    def known(self) -> bool:
        """False for a user with no events (cold start)."""
        return self.version != EMPTY_VERSION

    @property
    def recent_items(self) -> list[str]:
        """Items of the latest events, oldest first (repeats kept: that is the sequence)."""
        return [event.item for event in self.recent]

    def excluded(self, include_seen: bool) -> set[str]:
        """Items never to recommend: disliked ones, and seen ones unless they may come back."""
        return set(self.disliked) | (set() if include_seen else set(self.seen))
