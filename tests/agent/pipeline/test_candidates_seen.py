"""Seen items in the candidates: kept out by default, back (with the repeat source) where allowed,
disliked ones never."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from agent.pipeline.candidates import CandidateGenerator
from agent.rankers.behaviour import BehaviourModels
from agent.settings import AgentSettings
from memory.interests import WindowEvent
from memory.snapshot import UserSnapshot

DAY = 86400.0


class NoVectorsMemory:
    """The memory as the generator reads it for a user with no interest vectors (a fake of one method)."""

    def nearest_items_many(self, vectors: Sequence[np.ndarray], k: int, excluded: set[str]) -> list[list]:
        return [[] for _ in vectors]


def _behaviour() -> BehaviourModels:
    rows = [(f"u{u}", item, float(t) * DAY, 1.0) for u in range(4) for t, item in enumerate(["milk", "bread", "eggs"])]
    return BehaviourModels.from_log(rows, model_path=None)


def _shopper() -> UserSnapshot:
    """Bought milk weekly, bread once, and disliked the eggs."""
    events = [WindowEvent(k * 7 * DAY, f"e{k}", "milk", "purchase", None, 1.0) for k in range(4)]
    events += [WindowEvent(1 * DAY, "b", "bread", "purchase", None, 1.0),
               WindowEvent(2 * DAY, "x", "eggs", "dislike", None, -1.0)]
    events.sort()
    return UserSnapshot(user="ana", version="v1", recent=tuple(events),
                        seen=frozenset({"milk", "bread", "eggs"}), disliked=frozenset({"eggs"}))


def _generate(allow_seen: bool | None, include_seen: bool = False):
    generator = CandidateGenerator(NoVectorsMemory(), _behaviour(), AgentSettings(allow_seen=allow_seen))
    return generator.generate(_shopper(), include_seen=include_seen)


def test_seen_items_stay_out_unless_allowed_and_none_counts_as_no():
    for allow_seen in (None, False):
        candidates = _generate(allow_seen)
        assert not {"milk", "bread", "eggs"} & set(candidates.item_ids)
        assert "repeat" not in candidates.per_source


def test_allowed_seen_items_come_back_through_repeat_in_repeat_order_but_dislikes_never():
    for candidates in (_generate(True), _generate(None, include_seen=True)):
        repeat = candidates.per_source["repeat"]
        assert list(repeat) == ["milk", "bread"], "bought weekly beats bought once"
        assert "eggs" not in candidates.item_ids
        assert "milk" in candidates.per_source["popularity"]
