"""The person's standing preferences from their memory edits, applied to every list they get:
a pinned topic holds a place in each list, a faded one ranks lower unless this session asks for it."""

from __future__ import annotations

from collections.abc import Callable

from agent.pipeline.refinement import Refinement
from memory.edits import EditState

FADED_BOOST = -1.0  # as "less <topic>" in the chat


def with_standing(refinement: Refinement | None, edits: EditState,
                  label: Callable[[str], str]) -> tuple[Refinement | None, list[str]]:
    """The session's refinement with the standing preferences added, and those preferences in words."""
    pinned, faded = set(edits.pinned), edits.faded_nodes
    if not pinned and not faded:
        return refinement, []
    base = refinement or Refinement()
    asked = base.only_topics | {topic for topic, boost in base.topic_boosts.items() if boost > 0}
    boosts = dict(base.topic_boosts)
    for node in faded:
        if node not in asked:
            boosts[node] = boosts.get(node, 0.0) + FADED_BOOST
    words = [f"{label(node)} pinned" for node in sorted(pinned, key=label)]
    words += [f"{label(node)} faded" for node in faded if node not in asked]
    pins = pinned - base.exclude_topics
    return base.model_copy(update={"pinned_topics": pins, "topic_boosts": boosts}), words
