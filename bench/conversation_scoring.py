"""Scoring a turn of the labelled dialogue set (bench/data/dialogues.md): the slots read as (slot,
value) pairs for F1, and the session and memory state after the turn in the set's own terms.

Titles compare by their normalised form ("Godfather, The (1972)" is "the godfather"); topic names
case-insensitively. A positional anchor ("#2") is resolved against the list that was on screen
when it was first said, and kept with the script."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from agent.chat.mentions import normalise_title
from agent.chat.turns import Turn
from agent.pipeline.refinement import Refinement
from memory.edits import EditKind, EditState

TITLE_SLOTS = ("forget", "not_mine", "like")
LIST_STATE = ("only", "exclude", "prefer", "avoid", "faded", "pinned", "not_mine", "like")


def expected_pairs(slots: Mapping[str, object]) -> set[tuple[str, str]]:
    pairs = set()
    for key, value in slots.items():
        values = value if isinstance(value, list) else [value]
        for one in values:
            pairs.add((key, _word(key, one)))
    return pairs


def predicted_pairs(turn: Turn, labels: Mapping[str, str], titles: Mapping[str, str]) -> set[tuple[str, str]]:
    """What the reader extracted, as the set writes it."""
    named = {item: normalise_title(title) for item, title in titles.items()}
    slots = turn.slots.model_copy(update={"avoid": [*turn.slots.avoid, *turn.slots.unsure_topics]})
    pairs = slots.pairs(labels, named)
    edit = turn.edit
    if turn.memory_view:
        pairs.add(("show_memory", "true"))
    if edit is None:
        return pairs
    if edit.kind == "undo":
        pairs.add(("undo", "true"))
    elif edit.kind in ("fade", "pin", "unpin"):
        names = [labels.get(node, node).lower() for node in turn.edit_topics] or [edit.target.lower()]
        pairs |= {(edit.kind, name) for name in names}
    elif edit.kind in ("forget", "not_mine") and (turn.edit_items or not edit.pronoun):
        pairs |= {(edit.kind, named.get(item, item)) for item in turn.edit_items} or {(edit.kind, edit.target)}
    return pairs


def f1_counts(expected: set, predicted: set) -> tuple[int, int, int]:
    """(true positives, false positives, false negatives); a predicted title counts where either of the two
    normalised titles contains the other (a person types "the lion king")."""
    matched = {p for p in predicted if any(_same(p, e) for e in expected)}
    found = {e for e in expected if any(_same(p, e) for p in predicted)}
    return len(found), len(predicted - matched), len(expected - found)


def expected_state(state: Mapping[str, object], anchors: Mapping[str, str]) -> dict[str, object]:
    """The set's state with list values as sorted lowercase words; "#n" anchors replaced by their titles."""
    found: dict[str, object] = {}
    for key, value in state.items():
        if key == "like":
            values = [anchors.get(value, value)] if isinstance(value, str) else list(value)
            found[key] = sorted(normalise_title(title) for title in values)
        elif key in LIST_STATE:
            found[key] = sorted(_word(key, one) for one in value)
        elif value not in (None, False, [], {}):
            found[key] = _word(key, value)
    return found


def actual_state(refinement: Refinement, edits: EditState, labels: Mapping[str, str], titles: Mapping[str, str],
                 event_titles: Mapping[str, str]) -> dict[str, object]:
    """The session's refinement and the memory's edits in force, in the set's terms."""
    name = lambda node: labels.get(node, node).lower()  # noqa: E731
    state: dict[str, object] = {
        "only": sorted(map(name, refinement.only_topics)),
        "exclude": sorted(map(name, refinement.exclude_topics)),
        "prefer": sorted(name(t) for t, b in refinement.topic_boosts.items() if b > 0),
        "avoid": sorted(name(t) for t, b in refinement.topic_boosts.items() if b < 0),
        "like": sorted(normalise_title(titles.get(item, item)) for item in refinement.like_items),
        "faded": sorted(map(name, edits.faded_nodes)),
        "pinned": sorted(map(name, edits.pinned)),
        "not_mine": sorted({normalise_title(event_titles[e]) for e in edits.not_mine if e in event_titles}),
    }
    if refinement.has_years:
        state["years"] = f"{refinement.year_from or ''}-{refinement.year_to or ''}"
    elif refinement.year_preference:
        state["recency"] = "newer" if refinement.year_preference > 0 else "older"
    scalars = {"count": refinement.count, "seen": refinement.seen, "like_recent": refinement.like_recent or None,
               "surprise": refinement.surprise or None,
               "forgotten": sum(e.items for e in edits.active() if e.kind == EditKind.FORGET) or None}
    state |= {key: str(value).lower() for key, value in scalars.items() if value is not None}
    return {key: value for key, value in state.items() if value not in ([], None)}


def anchor_for(value: object, shown: Sequence[tuple[str, str]]) -> str | None:
    """The title a "#n" anchor names in the list on screen (None when it is not a positional anchor)."""
    if not isinstance(value, str) or not value.startswith("#"):
        return None
    place = int(value[1:])
    return shown[place][1] if place < len(shown) else None


def _word(key: str, value: object) -> str:
    if key in TITLE_SLOTS:
        return normalise_title(str(value))
    if isinstance(value, str) and " > " in value:  # a topic written as its path: the node is its last level
        return value.rsplit(" > ", 1)[1].strip().lower()
    if isinstance(value, bool):
        return str(value).lower()
    return str(value).lower()


def _same(predicted: tuple[str, str], expected: tuple[str, str]) -> bool:
    if predicted[0] != expected[0]:
        return False
    if predicted[0] in TITLE_SLOTS:
        return predicted[1] == expected[1] or (len(predicted[1]) > 2 and len(expected[1]) > 2 and (
            predicted[1] in expected[1] or expected[1] in predicted[1]))
    return predicted[1] == expected[1]
